"""The condense stage: turn a follow-up into a standalone question using the history."""

from __future__ import annotations

import re
from collections import OrderedDict, deque
from collections.abc import Sequence
from threading import Lock

from assistant.retrieval import NameIndex
from assistant.types import Turn

_PERSON_PRONOUN = re.compile(r"\b(he|him|she|her|his|hers)\b", re.I)
_THING_PRONOUN = re.compile(
    r"\b(it|its|they|them|their|that study|this study|that article|"
    r"this article|the study|that|this|those|these)\b",
    re.I,
)
_ELLIPSIS = re.compile(
    r"^\s*(?:and|but|also|what about|how about|and what about)\s+(.+?)\s*[?.!]*\s*$", re.I
)
_SUBSTANCES = ("MDMA", "psilocybin", "LSD", "ketamine", "ayahuasca", "psychedelics")


def _last_person(history: Sequence[Turn], names: NameIndex) -> str | None:
    for turn in reversed(history):
        found = names.find(turn.standalone_question)
        if found:
            return found[0].name
    return None


def condense_followup(question: str, history: Sequence[Turn], names: NameIndex) -> str:
    """A standalone version of ``question``: pronouns resolved to the person last discussed,
    ellipsis ("and psilocybin?") completed from the previous question; self-contained
    questions come back unchanged."""
    if not history:
        return question
    previous = history[-1].standalone_question
    ellipsis = _ELLIPSIS.match(question)
    if ellipsis:
        new_term = ellipsis.group(1)
        new_names = names.find(new_term)
        old_names = names.find(previous)
        if new_names and old_names:
            return _replace_term(previous, old_names[0].aliases, new_names[0].name)
        old_substances = [s for s in _SUBSTANCES if re.search(rf"\b{s}\b", previous, re.I)]
        if old_substances and any(re.search(rf"\b{s}\b", new_term, re.I) for s in _SUBSTANCES):
            return _replace_term(previous, old_substances, new_term)
        return f"{previous.rstrip('?.! ')} — and {new_term}?"
    if names.find(question):
        return question
    person = _last_person(history, names)
    if person and _PERSON_PRONOUN.search(question):
        return _PERSON_PRONOUN.sub(lambda m: _person_form(m.group(1), person), question)
    if _THING_PRONOUN.search(question) and len(question.split()) <= 12:
        return f"{question.rstrip('?.! ')}? (about: {previous.rstrip('?.! ')})"
    return question


def _replace_term(text: str, old_terms: Sequence[str], new_term: str) -> str:
    for term in sorted(old_terms, key=len, reverse=True):
        pattern = re.compile(rf"(?<!\w){re.escape(term)}(?:['’]s)?(?!\w)", re.I)
        if pattern.search(text):
            return pattern.sub(new_term, text, count=1)
    return text


def _person_form(pronoun: str, person: str) -> str:
    return f"{person}’s" if pronoun.lower() in ("his", "hers") else person


class ConversationStore:
    """Bounded histories keyed by conversation id, safe to share between threads."""

    def __init__(self, max_turns: int = 6, max_conversations: int = 1000) -> None:
        self._max_turns = max_turns
        self._max_conversations = max_conversations
        self._histories: OrderedDict[str, deque[Turn]] = OrderedDict()
        self._lock = Lock()

    def history(self, conversation: str) -> tuple[Turn, ...]:
        with self._lock:
            return tuple(self._histories.get(conversation, ()))

    def add(self, conversation: str, turn: Turn) -> None:
        with self._lock:
            turns = self._histories.setdefault(conversation, deque(maxlen=self._max_turns))
            turns.append(turn)
            self._histories.move_to_end(conversation)
            while len(self._histories) > self._max_conversations:
                self._histories.popitem(last=False)
