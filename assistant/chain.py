"""One turn of the assistant, read top to bottom:

    guard_in -> condense -> route -> refused    : the rail's reply
                                     small_talk : small_talk
                                     task       : decline
                                     document   : document [-> retrieve -> answer -> decide]
                                     retrieval  : retrieve -> answer -> decide
                         -> [write] -> guard_out

Each stage is an object with one method over a ``TurnState`` (``assistant/stages.py``,
``assistant/routes/stages.py``); the chain is their LCEL composition. ``condense`` makes a
follow-up a standalone question ("where does he work?" names whom), so ``route`` reads what
is asked; it records the kind of turn (the registry is ``assistant/routes/routes.toml``) and
``routes`` below maps each to the stages that answer it: no retrieval runs for a turn that
does not need it. On the retrieval route an answerer (the feature scorer or the trained reader)
ranks the candidate sentences and ``decide`` turns its ranking into a calibrated confidence
and the status that follows: answered, partial or abstained. The writer (optional) and the
output guard run on every reply. The page, CLI, API, MCP and evals all call ``Assistant``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.config import Settings
from assistant.history import ConversationStore, TranscriptCache, bounded, remember, to_turn
from assistant.resources import Resources, get_resources
from assistant.routes.registry import DEFAULT_ROUTE, ROUTES
from assistant.routes.stages import AboutDocument, Decline, Route, SmallTalk
from assistant.stages import (
    Answer,
    Condense,
    Decide,
    GuardIn,
    GuardOut,
    Retrieve,
    Stage,
    TurnState,
    Write,
)
from assistant.types import Reply, Turn
from assistant.writer import chat_model

log = logging.getLogger("assistant")

# what a turn that failed on our side says (status "error"); the traceback goes to the log
ERROR_MESSAGE = "Something went wrong on our side while answering; please try again."


@dataclass(frozen=True)
class Variant:
    """Switches for ablations; the default is the full product."""

    bm25: bool = True
    dense: bool = True
    names: bool = True
    condense: bool = True
    select: bool = True  # sentence selection; off: quote the top passages whole
    answerer: str | None = None  # "scorer", "reader"; None: as Settings.answerer says


def routes(resources: Resources, variant: Variant = Variant()) -> dict[str, list[Stage]]:
    """Each route (``assistant/routes/routes.toml``) and the stages that answer it, in order."""
    answerer = variant.answerer or resources.settings.answerer
    retrieval = [
        Retrieve(resources, resources.retriever(variant)),
        Answer(resources, answerer),
        Decide(resources, answerer, whole_passages=not variant.select),
    ]
    return {
        "small_talk": [SmallTalk(resources)],
        "task": [Decline(resources)],
        "document": [AboutDocument(resources), *retrieval],  # its passages when it has no such part
        "retrieval": retrieval,
    }


def after_reply(resources: Resources) -> list[Stage]:
    """What every reply passes through: the optional writer, then the output guard."""
    settings = resources.settings
    steps: list[Stage] = []
    if settings.llm:
        model = chat_model(settings.llm, settings.llm_base_url, settings.llm_timeout_s)
        steps.append(Write(model, settings.llm))
    return [*steps, GuardOut(resources)]


def _timed(stage: Stage):
    def run(state: TurnState) -> TurnState:
        started = time.perf_counter()
        out = stage(state)
        out.timings[stage.name] = (time.perf_counter() - started) * 1000
        return out

    run.__name__ = stage.name
    return run


def build_chain(first: Sequence[Stage], table: dict[str, Sequence[Stage]], finish: Sequence[Stage]):
    """The turn as an LCEL runnable, TurnState in, Reply out: the ``first`` stages (the input
    guard, condense, the route), the route's stages (each runs unless an earlier one replied),
    then ``finish`` on every reply."""
    from langchain_core.runnables import RunnableBranch, RunnableLambda

    def unless_replied(stage: Stage):
        return RunnableBranch((lambda s: s.reply is not None, lambda s: s), _timed(stage))

    def pipeline(steps: Sequence[Stage]):
        chain = unless_replied(steps[0])
        for stage in steps[1:]:
            chain = chain | unless_replied(stage)
        return chain

    answered = set(ROUTES) - {"refused", "error"}  # those two are replies already
    if set(table) != answered:
        raise ValueError(f"the route table must answer exactly {sorted(answered)}")
    special = [name for name in table if name != DEFAULT_ROUTE]
    branches = [(lambda s, name=name: s.route == name, pipeline(table[name])) for name in special]
    answer = RunnableBranch(
        (lambda s: s.reply is not None, lambda s: s), *branches, pipeline(table[DEFAULT_ROUTE])
    )

    def timed_reply(state: TurnState) -> Reply:
        state.reply.timings_ms = dict(state.timings)
        return state.reply

    chain = pipeline(first) | answer
    for stage in finish:
        chain = chain | RunnableLambda(_timed(stage))
    return chain | RunnableLambda(timed_reply)


class Assistant:
    """The product: the chain plus the session layer every door uses (the page, CLI, API, MCP,
    evals): the window of earlier turns a turn reads (``Settings.history_turns``), the
    conversations it remembers, and one error policy: a turn never raises; an unexpected
    failure is a reply with status ``error``, one line, logged with its traceback. Thread-safe."""

    def __init__(self, settings: Settings | None = None, variant: Variant = Variant()) -> None:
        self.settings = settings or Settings()
        self.resources = get_resources(self.settings)
        self.profile = self.resources.profile
        self.chain = build_chain(
            [
                GuardIn(self.resources),
                Condense(self.resources, rewrite=variant.condense),
                Route(self.resources),
            ],
            routes(self.resources, variant),
            after_reply(self.resources),
        )
        self.guard_out = GuardOut(self.resources)
        turns = self.settings.history_turns
        self.conversations = ConversationStore(turns)
        self.transcripts = TranscriptCache(self.reply, turns)

    def warm_up(self) -> None:
        """Load what the first turns would load on demand (the answerer, the decision, the
        learned rail, the router, the query encoder's first call) with one question and one
        follow-up of the corpus's examples: a server calls this before it opens its port."""
        first = self.profile.examples[0] if self.profile.examples else "What is this about?"
        self.reply("And why?", (to_turn(self.reply(first)),))

    def reply(self, message: str | bytes, history: Sequence[Turn] = ()) -> Reply:
        """Answer one message given the earlier turns (the last ``history_turns`` are read);
        never raises."""
        started = time.perf_counter()
        state = TurnState(message=message, history=bounded(history, self.settings.history_turns))
        try:
            reply = self.chain.invoke(state)
        except Exception:  # noqa: BLE001 - bad input is the chain's; this is for bugs
            log.exception("turn failed")
            reply = self.failed(message)
        reply.timings_ms["total"] = (time.perf_counter() - started) * 1000
        return reply

    def failed(self, message: object) -> Reply:
        """The reply of a turn that failed on our side: status ``error``, one line."""
        text = message if isinstance(message, str) else ""
        reply = Reply(text[:200], "", "error", ERROR_MESSAGE, route="error")
        try:
            return self.guard_out(TurnState(message=text, reply=reply)).reply
        except Exception:  # noqa: BLE001 - the output guard itself failed: the bare line
            log.exception("the output guard failed on an error reply")
            reply.disclaimer = self.profile.disclaimer
            return reply

    def turn(self, message: str | bytes, history: Sequence[Turn] = ()) -> tuple[Reply, tuple]:
        """The reply and the history after it (for a client that keeps the history: the page)."""
        reply = self.reply(message, history)
        return reply, remember(history, reply, self.settings.history_turns)

    def ask(self, message: str | bytes, conversation: str = "default") -> Reply:
        """Answer within a remembered conversation (the CLI, MCP)."""
        reply = self.reply(message, self.conversations.history(conversation))
        self.conversations.add(conversation, reply)
        return reply

    def follow(self, messages: Sequence[str]) -> Reply:
        """Answer the last of a client's user messages, the earlier ones its conversation
        (clients that send the whole transcript each time: the OpenAI API)."""
        reply = self.reply(messages[-1], self.transcripts.history(messages[:-1]))
        self.transcripts.remember(messages, to_turn(reply))
        return reply
