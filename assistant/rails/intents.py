"""The intent rails beside dosing: crisis, emergency, harm to others, illegal supply and
personal medical advice. Each is a name and rules in ``data/intents.toml``; what it replies is
in ``data/replies.toml``. A crisis keeps its supportive reply over the next turns until the
person turns to another subject."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.rails.data import load, pattern
from assistant.rails.normalise import detection_form
from assistant.types import Turn


@dataclass(frozen=True)
class IntentRule:
    rx: re.Pattern[str]
    unless: re.Pattern[str] | None = None

    def fires(self, d: str) -> bool:
        return bool(self.rx.search(d)) and not (self.unless and self.unless.search(d))


@dataclass(frozen=True)
class Rail:
    """One intent rail: its reason name and the rules any of which makes it fire."""

    name: str
    rules: tuple[IntentRule, ...]

    def fires(self, d: str) -> bool:
        return any(rule.fires(d) for rule in self.rules)


@functools.cache
def rails() -> tuple[Rail, ...]:
    """The intent rails, in the order they are tried."""
    data = load("intents")
    fragments = data["fragments"]
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
        )
        for rail in data["rails"]
    )


@functools.cache
def _persistence() -> dict:
    p = load("intents")["persistence"]
    return {
        "turns": p["turns"],
        "continues": pattern(p["continues"]),
        "changes": pattern(p["changes_subject"]),
    }


def matching_rail(text: str) -> str | None:
    """The first intent rail that fires on ``text``, or None."""
    d = detection_form(text)
    return next((rail.name for rail in rails() if rail.fires(d)), None)


def crisis_continues(text: str, history: Sequence[Turn]) -> bool:
    """A crisis in the recent turns, and this message does not turn to another subject."""
    p = _persistence()
    recent = list(history)[-p["turns"] :]
    if not any(t.reason == "crisis" for t in recent):
        return False
    d = detection_form(text)
    return not p["changes"].search(d) and bool(p["continues"].search(d))


def intent_of(text: str, history: Sequence[Turn] = ()) -> str | None:
    """The intent rail this message (alone, after a crisis, or completing the user's previous
    message) calls for, or None."""
    found = matching_rail(text)
    if found:
        return found
    if history and crisis_continues(text, history):
        return "crisis"
    if history and history[-1].status != "refused":
        # a request split across two messages: "my friend took some pills" / "and now?"
        return matching_rail(f"{history[-1].question} {text}")
    return None
