"""Conversation history: what a turn remembers of the earlier ones, bounded, the same for the
page (kept per browser tab), the CLI and MCP (kept by conversation id) and the API (rebuilt from
the client's transcript). ``Assistant`` (``chain.py``) owns them."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from threading import Lock

from assistant.types import Reply, Turn


def to_turn(reply: Reply) -> Turn:
    """What the next turn needs to remember of this one."""
    return Turn(
        reply.question,
        reply.standalone_question,
        reply.status,
        tuple(reply.sources),
        dosing=reply.refusal_reason == "dosing",
        reason=reply.refusal_reason,
    )


def bounded(history: Sequence[Turn], max_turns: int) -> tuple[Turn, ...]:
    """The last ``max_turns`` turns of a history."""
    return tuple(history[-max_turns:]) if max_turns > 0 else ()


def remember(history: Sequence[Turn], reply: Reply, max_turns: int) -> tuple[Turn, ...]:
    """The history after this reply: one more turn, the oldest beyond the bound dropped. A turn
    that failed on our side (status ``error``) is not remembered: the next one reads as if it
    never happened."""
    if reply.status == "error":
        return bounded(history, max_turns)
    return bounded((*history, to_turn(reply)), max_turns)


class ConversationStore:
    """Bounded histories keyed by conversation id, safe to share between threads: each keeps
    its last ``max_turns`` turns; the least recently used conversations beyond
    ``max_conversations`` are forgotten."""

    def __init__(self, max_turns: int = 6, max_conversations: int = 1000) -> None:
        self._max_turns = max_turns
        self._max_conversations = max_conversations
        self._histories: OrderedDict[str, tuple[Turn, ...]] = OrderedDict()
        self._lock = Lock()

    def history(self, conversation: str) -> tuple[Turn, ...]:
        """The remembered turns of one conversation, oldest first."""
        with self._lock:
            return self._histories.get(conversation, ())

    def add(self, conversation: str, reply: Reply) -> None:
        """Remember one more turn (dropping the oldest beyond the bound)."""
        with self._lock:
            earlier = self._histories.get(conversation, ())
            self._histories[conversation] = remember(earlier, reply, self._max_turns)
            self._histories.move_to_end(conversation)
            while len(self._histories) > self._max_conversations:
                self._histories.popitem(last=False)

    def clear(self, conversation: str) -> None:
        """Forget one conversation (a "new conversation" button)."""
        with self._lock:
            self._histories.pop(conversation, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._histories)


class TranscriptCache:
    """Turns rebuilt from a client's transcript (its user messages, oldest first), for clients
    that send the whole conversation each time (the OpenAI API): each earlier message is
    answered once, its turn remembered per transcript prefix (an LRU of ``size`` prefixes)."""

    def __init__(
        self, reply: Callable[[str, tuple[Turn, ...]], Reply], max_turns: int, size: int = 4096
    ) -> None:
        self._reply = reply
        self._max_turns = max_turns
        self._size = size
        self._turns: OrderedDict[tuple[str, ...], Turn] = OrderedDict()
        self._lock = Lock()

    def history(self, earlier: Sequence[str]) -> tuple[Turn, ...]:
        """The turns of these earlier user messages, answered where not yet remembered."""
        turns: list[Turn] = []
        for i in range(len(earlier)):
            key = tuple(earlier[: i + 1])
            with self._lock:
                turn = self._turns.get(key)
                if turn is not None:
                    self._turns.move_to_end(key)
            if turn is None:
                turn = to_turn(self._reply(earlier[i], bounded(turns, self._max_turns)))
                self.remember(key, turn)
            turns.append(turn)
        return bounded(turns, self._max_turns)

    def remember(self, messages: Sequence[str], turn: Turn) -> None:
        """The turn answering the last of ``messages``, for the next request to find (not a
        turn that failed on our side: the next request answers that message again)."""
        if turn.status == "error":
            return
        with self._lock:
            self._turns[tuple(messages)] = turn
            self._turns.move_to_end(tuple(messages))
            while len(self._turns) > self._size:
                self._turns.popitem(last=False)
