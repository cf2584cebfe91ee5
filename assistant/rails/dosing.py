"""The dosing rail: a message that asks for a dose, an amount or a schedule of a substance, in
any phrasing, alone or given the turns before it. Rules in ``data/dosing.toml``."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.rails.data import load, pattern, words
from assistant.rails.doses import find_doses
from assistant.rails.normalise import detection_form
from assistant.types import Turn

_LETTERS_RE = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class Rule:
    """A lexical rule: ``rx`` matches, ``then`` (if any) matches after it, ``unless`` nowhere.

    Split this way instead of ``.*`` inside one pattern so every rule stays linear in the
    message length (a 2,000-character "ignore ignore ..." took 32 ms with ``.*``). A rule is
    only tried when the message holds one of its trigger words (or prefixes): that skips most
    rules and keeps a 2,000-character message near 2 ms instead of ~10 ms.
    """

    name: str
    rx: re.Pattern[str]
    then: re.Pattern[str] | None = None
    unless: re.Pattern[str] | None = None
    triggers: frozenset[str] | None = None  # None: always tried
    prefixes: tuple[str, ...] = ()
    needs_substance: bool = False  # a quantity rule: only about a drug, a medicine or intake

    def triggered(self, present: set[str]) -> bool:
        if self.triggers is None:
            return True
        if not present.isdisjoint(self.triggers):
            return True
        return bool(self.prefixes) and any(w.startswith(self.prefixes) for w in present)

    def fires(self, d: str, present: set[str] | None = None) -> bool:
        if present is not None and not self.triggered(present):
            return False
        m = self.rx.search(d)
        if m is None:
            return False
        if self.then is not None and not self.then.search(d, m.end()):
            return False
        return not (self.unless is not None and self.unless.search(d))


@functools.cache
def rules() -> tuple[Rule, ...]:
    data = load("dosing")
    fragments = data["fragments"]

    def optional(entry: dict, key: str) -> re.Pattern[str] | None:
        return pattern(entry[key], fragments) if key in entry else None

    return tuple(
        Rule(
            name=entry["name"],
            rx=pattern(entry["rx"], fragments),
            then=optional(entry, "then"),
            unless=optional(entry, "unless"),
            triggers=words(entry["triggers"]) if "triggers" in entry else None,
            prefixes=tuple(entry.get("prefixes", ())),
            needs_substance=entry.get("needs_substance", False),
        )
        for entry in data["rules"]
    )


@functools.cache
def _conversation() -> dict:
    data = load("dosing")
    c = data["conversation"]
    return {
        key: pattern(c[key], data["fragments"])
        for key in ("subject", "quantity", "personal", "insistence")
    } | {"turns": c["history_turns"]}


@functools.cache
def _substance() -> re.Pattern[str]:
    data = load("dosing")
    return pattern(data["substance"]["rx"], data["fragments"])


def about_substance(d: str) -> bool:
    """The detection form names a drug or medicine, a dose or an intake (``[substance]``)."""
    return bool(_substance().search(d))


def substance_in(history: Sequence[Turn]) -> bool:
    """One of the recent turns named a drug, a medicine, a dose or an intake."""
    turns = list(history)[-_conversation()["turns"] :]
    return any(about_substance(detection_form(t.question)) for t in turns)


def lexical_dosing_rules(text: str, substance_context: bool = False) -> list[str]:
    """Names of the lexical rules that fire on ``text`` (detection form is computed here);
    ``substance_context``: the conversation is about a substance, so a bare quantity question
    ("what amount would be right for me?") is about it too."""
    d = detection_form(text)
    present = set(_LETTERS_RE.findall(d))
    substance = substance_context or about_substance(d)
    fired = [
        rule.name
        for rule in rules()
        if (substance or not rule.needs_substance) and rule.fires(d, present)
    ]
    if substance and find_doses(d):
        fired.append("amount-in-message")
    return fired


def dosing_followup(text: str, history: Sequence[Turn]) -> bool:
    """A follow-up that is a dosing request only given the turns before it: insisting after a
    refusal, or a quantity or personal-use question after a turn about doses or safety."""
    c = _conversation()
    recent = list(history)[-c["turns"] :]
    if not recent:
        return False
    d = detection_form(text)
    last = recent[-1]
    if last.status == "refused" and last.reason == "dosing" and c["insistence"].search(d):
        return True
    if not (c["quantity"].search(d) or c["personal"].search(d)):
        return False
    for turn in recent:
        if turn.dosing or (turn.status == "refused" and turn.reason == "dosing"):
            return True
        if c["subject"].search(detection_form(f"{turn.question} {turn.standalone_question}")):
            return True
    return False


def touches_dosing(text: str) -> bool:
    """True if a question is about doses, intake or safety (a subject that colours follow-ups)."""
    return bool(_conversation()["subject"].search(detection_form(text)))
