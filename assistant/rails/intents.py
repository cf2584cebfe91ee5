"""The intent rails beside dosing: crisis, emergency, harm to others, illegal supply and
personal medical advice. Each is a name and rules in ``data/intents.toml``; what it replies is
in ``data/replies.toml``. A crisis keeps its supportive reply over the next turns until the
person turns to another subject."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.names import EVERYDAY_ZIPF, NameIndex
from assistant.rails.data import load, pattern
from assistant.rails.normalise import detection_form
from assistant.types import Turn


@dataclass(frozen=True)
class IntentRule:
    rx: re.Pattern[str]
    unless: re.Pattern[str] | None = None

    def fires(self, d: str, latest: str | None = None) -> bool:
        """``rx`` on ``d``; ``unless`` on ``latest`` when given (a request split over two
        messages: the look-alike exemptions read only the message being answered)."""
        exempt = self.unless and self.unless.search(d if latest is None else latest)
        return bool(self.rx.search(d)) and not exempt


@dataclass(frozen=True)
class Rail:
    """One intent rail: its reason name and the rules any of which makes it fire."""

    name: str
    rules: tuple[IntentRule, ...]
    after_dosing: bool = False

    def fires(self, d: str, latest: str | None = None) -> bool:
        return any(rule.fires(d, latest) for rule in self.rules)


# The people the loaded corpus cites, as the rules' ``${cited_people}`` ("like <name> did" is
# about a person of the documents, not the user): none until a corpus is loaded (``Resources``
# calls ``cite_people`` with its name index); names of every corpus this process loaded.
_cited_people: frozenset[str] = frozenset()


def cite_people(index: NameIndex) -> None:
    """Let ``${cited_people}`` match the people ``index`` cites: each one's name, and each
    one-word alias that is no everyday English word ("Hendricks", not "Close": the name index
    reads an everyday one only as written, capitalised, which the folded form cannot show)."""
    from wordfreq import zipf_frequency

    from assistant.subject import is_person

    def everyday(word: str) -> bool:
        return zipf_frequency(word.lower(), "en") >= EVERYDAY_ZIPF

    global _cited_people
    forms = set()
    for cited in (c for c in index.names.values() if is_person(c)):
        forms.add(cited.name)
        forms.update(a for a in cited.aliases if " " not in a and not everyday(a))
    _cited_people = _cited_people | {detection_form(f) for f in forms}


def people_fragment(people: frozenset[str]) -> str:
    """``${cited_people}``: any of these names, longest first; nothing without any."""
    if not people:
        return "(?!)"
    names = sorted(people, key=len, reverse=True)
    return "(?:" + "|".join(r"\s+".join(map(re.escape, n.split())) for n in names) + ")"


def rails() -> tuple[Rail, ...]:
    """The intent rails, in the order they are tried."""
    return _rails(_cited_people)


@functools.lru_cache(maxsize=8)
def _rails(people: frozenset[str]) -> tuple[Rail, ...]:
    data = load("intents")
    fragments = {**data["fragments"], "cited_people": people_fragment(people)}
    return tuple(
        Rail(
            rail["name"],
            tuple(
                IntentRule(
                    pattern(rule["rx"], fragments),
                    pattern(rule["unless"], fragments) if "unless" in rule else None,
                )
                for rule in rail["rules"]
            ),
            rail.get("after_dosing", False),
        )
        for rail in data["rails"]
    )


@functools.cache
def _persistence() -> dict:
    p = load("intents")["persistence"]
    return {
        "turns": p["turns"],
        "distress": pattern(p["distress"]),
        "changes": pattern(p["changes_subject"]),
    }


def matching_rails(text: str, after_dosing: bool = False, latest: str | None = None) -> list[str]:
    """Every intent rail (of those tried before or after dosing) that fires, in order."""
    d = detection_form(text)
    last = detection_form(latest) if latest is not None else None
    tried = (rail for rail in rails() if rail.after_dosing == after_dosing)
    return [rail.name for rail in tried if rail.fires(d, last)]


def crisis_continues(text: str, history: Sequence[Turn]) -> bool:
    """A crisis in the recent turns, and this message does not turn to another subject."""
    p = _persistence()
    recent = list(history)[-p["turns"] :]
    if not any(t.reason == "crisis" for t in recent):
        return False
    d = detection_form(text)
    return bool(p["distress"].search(d)) or not p["changes"].search(d)


def intents_of(text: str, history: Sequence[Turn] = (), after_dosing: bool = False) -> list[str]:
    """The intent rails this message calls for: alone, after a crisis, or completing the
    user's previous message ("my son got into my pills" / "he's hard to wake")."""
    found = matching_rails(text, after_dosing)
    if found:
        return found
    if not after_dosing and history and crisis_continues(text, history):
        return ["crisis"]
    if history and history[-1].status != "refused":
        return matching_rails(f"{history[-1].question} {text}", after_dosing, latest=text)
    return []


def intent_of(text: str, history: Sequence[Turn] = (), after_dosing: bool = False) -> str | None:
    """The first of ``intents_of``, or None."""
    return next(iter(intents_of(text, history, after_dosing)), None)
