"""A chat client's background requests (a title, tags, follow-up suggestions, search queries),
recognised by their shape and answered cheaply, without the chain.

Clients send them to the selected model like any message, so without this the assistant
answers "the article does not cover that" to each. A request is a task when its prompt holds
the conversation as a transcript in a tagged block (``tasks.toml``); the JSON key it asks for,
or else its instruction's words, name the kind, and the reply is what it asks for, made from
the transcript and the corpus: the title from the first question, the tags from
the corpus profile, follow-ups from the profile's example questions and the documents' section
headings nearest the last question (no dose is repeated). The user's own messages in the
transcript pass the input rails again: a conversation any of them would be refused gets a
neutral title and no tags or suggestions, so a task never says more than the turns themselves
were allowed to; and a prompt whose words call for crisis or emergency help is no task: the
chain answers those words, with help.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from assistant.patterns import load_toml, pattern

DATA = Path(__file__).with_name("tasks.toml")
TITLE_CHARS = 60
FOLLOW_UPS = 3
# a suggestion this close (cosine) to a question already asked is that question again
ASKED_ALREADY = 0.8
NEUTRAL_TITLE = "Conversation"


@dataclass(frozen=True)
class Task:
    """A background request: the kind of answer asked for, its JSON key ("" when the prompt
    wants plain text), and the user's messages in the transcript."""

    kind: str  # title, tags, follow_ups, queries, or "" for what this assistant does not make
    key: str
    questions: tuple[str, ...]
    instruction: str = ""  # the prompt outside the transcript


@cache
def _data() -> dict:
    data = load_toml(DATA)
    tags = "|".join(re.escape(t) for t in data["transcript_tags"])
    return {
        **data,
        "opening": re.compile(rf"<({tags})>", re.I),
        "role_line": pattern(data["role_line"], flags=re.I | re.M),
        "json_key": pattern(data["json_key"]),
        "instructions": {k: pattern(v) for k, v in data["instruction_kinds"].items()},
    }


def _transcript(prompt: str) -> tuple[str, str] | None:
    """The first tagged transcript's body, and the prompt without it and its tags (found in
    linear time), or None."""
    opening = _data()["opening"].search(prompt)
    if opening is None:
        return None
    closing = f"</{opening.group(1).lower()}>"
    end = prompt.lower().find(closing, opening.end())
    if end < 0:
        return None
    outside = prompt[: opening.start()] + " " + prompt[end + len(closing) :]
    return prompt[opening.end() : end], outside


def background_task(prompt: str) -> Task | None:
    """The task this prompt asks for, or None when it is a message to answer."""
    data = _data()
    found = _transcript(prompt)
    if found is None:
        return None
    transcript, instruction = found
    lines = list(data["role_line"].finditer(transcript))
    users = set(data["user_roles"])
    questions = tuple(
        " ".join(transcript[m.end() : after.start() if after else len(transcript)].split())
        for m, after in zip(lines, [*lines[1:], None])
        if m.group("role").lower() in users
    )
    questions = tuple(q for q in questions if q)
    if not questions:
        return None
    key = data["json_key"].search(instruction)
    if key is not None and key.group("key").lower() in data["kinds"]:
        name = key.group("key").lower()
        return Task(data["kinds"][name], name, questions, instruction)
    kind = next((k for k, rx in data["instructions"].items() if rx.search(instruction)), "")
    return Task(kind, key.group("key").lower() if key else "", questions, instruction)


class TaskAnswers:
    """Answers tasks for one corpus. ``rail(text)`` names the input rail that refuses a
    message, or None; ``help_first`` are the rails that send a person to help;
    ``embed(texts)`` gives unit vectors (the retrieval model's)."""

    def __init__(
        self,
        profile,
        sections: Sequence[str],
        rail: Callable[[str], str | None],
        embed: Callable[[list[str]], object],
        help_first: Sequence[str] = ("crisis", "emergency"),
    ) -> None:
        self.profile = profile
        self.rail = rail
        self.help_first = tuple(help_first)
        self.embed = embed
        headings = [
            s if s.rstrip().endswith("?") else f"What does {profile.source} say about {s}?"
            for s in sections
        ]
        self.suggestions = list(dict.fromkeys([*profile.examples, *headings]))
        self._vectors = None
        self._lock = threading.Lock()

    @classmethod
    def of(cls, assistant) -> TaskAnswers:
        """The task answers of a running assistant: its profile, its documents' section
        headings, its input rails and its retrieval model."""
        from assistant import rails
        from assistant.rails.registry import HELP_FIRST

        resources = assistant.resources
        embed = resources.embeddings.embed_many
        documents = sorted(resources.library.documents.values(), key=lambda d: d.id)
        sections = [s.title for d in documents for s in d.sections if s.title != d.title]

        def rail(text: str) -> str | None:
            check = rails.check_message(text, resources.settings.max_message_chars)
            return rails.rail_for(check.text, (), embed) if check.status == "ok" else None

        return cls(assistant.profile, sections, rail, embed, HELP_FIRST)

    def needs_help(self, task: Task) -> str | None:
        """The words in the prompt, the instruction or a message of its transcript, that call
        for a rail that sends a person to help, or None. Such a prompt is no task: someone in
        crisis who typed one gets the chain's reply to those words, with help. Other rails may
        fire on a client's long template ("1-3 tags ... use only" reads like dosing to the
        patterns), and a task's answer holds nothing they guard."""
        for text in (" ".join(task.instruction.split()), *task.questions):
            if self.rail(text) in self.help_first:
                return text
        return None

    def answer(self, task: Task) -> str:
        """What the client asked for: JSON with the task's key, or plain text when it named
        none (a title, or one item a line)."""
        value = self.value(task)
        if task.key:
            return json.dumps({task.key: value} if value is not None else {}, ensure_ascii=False)
        if value is None:
            return ""
        return value if isinstance(value, str) else "\n".join(value)

    def value(self, task: Task) -> str | list[str] | None:
        """The title, or the list of tags, follow-ups or queries; None for an unknown kind."""
        if task.kind not in ("title", "tags", "follow_ups", "queries"):
            return None
        if any(self.rail(q) is not None for q in task.questions):
            return NEUTRAL_TITLE if task.kind == "title" else []
        from assistant.rails.doses import redact_doses

        if task.kind == "title":
            return title(redact_doses(task.questions[0]))
        if task.kind == "tags":
            return list(self.profile.tags)
        if task.kind == "follow_ups":
            return self.follow_ups(task.questions)
        return [redact_doses(task.questions[-1])]

    def follow_ups(self, asked: Sequence[str]) -> list[str]:
        """The suggestions nearest the last question, less any that was asked already (in
        other words too)."""
        import numpy as np

        if not self.suggestions:
            return []
        with self._lock:
            if self._vectors is None:
                self._vectors = np.asarray(self.embed(self.suggestions), dtype=np.float32)
        questions = np.asarray(self.embed(list(asked)), dtype=np.float32)
        similarity = self._vectors @ questions.T  # suggestions x asked
        fresh = similarity.max(axis=1) < ASKED_ALREADY
        ranked = np.argsort(-similarity[:, -1], kind="stable")
        return [self.suggestions[i] for i in ranked if fresh[i]][:FOLLOW_UPS]


def title(question: str, limit: int = TITLE_CHARS) -> str:
    """A chat title from its first question: the question, cut at a word, without its mark."""
    text = " ".join(question.split()).rstrip("?!. ")
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:-") + "…"
    return text[:1].upper() + text[1:] if text else NEUTRAL_TITLE
