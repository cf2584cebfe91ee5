"""The rails around a turn.

``guard_in`` runs first: it normalises the message (``normalise``), then tries the intent rails
(``intents``: crisis, emergency, harm, illegal supply, medical advice) and the dosing rail
(``dosing``, with the embedding ``backstop``), then the ``learned`` rail (a fine-tuned MiniLM)
for what no pattern caught. A rail that fires ends the turn with its reply and its reason (of
several, ``_arbitrate`` names one). ``guard_out`` runs last on every reply (``output``). What
each rail matches and says lives in ``rails/data/``; importing this package does no work.
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant.rails.backstop import Embed, embedding_says_dosing, embedding_scores
from assistant.rails.data import load
from assistant.rails.doses import contains_dose, find_doses, redact_doses
from assistant.rails.dosing import (
    about_substance,
    dosing_followup,
    lexical_dosing_rules,
    substance_in,
    touches_dosing,
)
from assistant.rails.intents import intents_of
from assistant.rails.learned import learned_choice, learned_intent
from assistant.rails.normalise import (
    InputCheck,
    InvalidInput,
    check_message,
    detection_form,
    normalise,
)
from assistant.rails.output import guard_out
from assistant.rails.registry import HELP_FIRST, REASONS
from assistant.smalltalk import small_talk_kind
from assistant.types import Turn

__all__ = [
    "REASONS",
    "InputCheck",
    "InvalidInput",
    "check_message",
    "contains_dose",
    "detection_form",
    "embedding_scores",
    "find_doses",
    "guard_in",
    "guard_out",
    "is_dosing_request",
    "lexical_dosing_rules",
    "normalise",
    "redact_doses",
    "rail_for",
    "rails_firing",
    "refusal",
    "touches_dosing",
]


def refusal(reason: str, source: str = "the documents", topics: str = "what they cover") -> str:
    """What the rail of this reason replies, offering what the corpus covers instead."""
    return load("replies")["refusals"][reason].format(source=source, topics=topics)


def is_dosing_request(text: str, history: Sequence[Turn] = (), embed: Embed | None = None) -> bool:
    """True if the message asks for a dose, an amount or a dosing schedule, in any framing."""
    if lexical_dosing_rules(text, bool(history) and substance_in(history)):
        return True
    if history and dosing_followup(text, history):
        return True
    return embed is not None and embedding_says_dosing(text, embed)


def rails_firing(text: str, history: Sequence[Turn] = (), embed: Embed | None = None) -> list[str]:
    """Every pattern rail that fires on this message, in the order they are tried."""
    fired = intents_of(text, history)
    if is_dosing_request(text, history, embed):
        fired.append("dosing")
    return fired + intents_of(text, history, after_dosing=True)


def rail_for(text: str, history: Sequence[Turn] = (), embed: Embed | None = None) -> str | None:
    """The reason of the rail this message calls for, or None: the patterns first (and when
    several fire, ``_arbitrate`` names one), then the learned rail (whose dosing, like the
    dosing rail's, must be about a substance)."""
    fired = rails_firing(text, history, embed)
    if fired:
        return _arbitrate(fired, text, embed is not None)
    # the learned rail reads requests and questions: not small talk ("bye", "good morning :)"),
    # and not without a model (the patterns' own tests pass no embed)
    if embed is None or small_talk_kind(text) is not None:
        return None
    # a first message is the question retrieval embeds as it is: its vector (cached for
    # retrieval) lets the head pass clearly safe messages; a follow-up is usually rewritten
    # first, so the fine-tuned model reads it rather than pay for an embedding of its own
    reason = _learned(text, None if history else embed([text])[0])
    if reason is None and history and history[-1].status != "refused":
        # a request split over two messages, read together as the patterns read it
        reason = _learned(f"{history[-1].question} {text}")
    return reason


def _arbitrate(fired: list[str], text: str, models: bool) -> str:
    """One reason of several: a rail that sends the person to help first, else the learned
    rail's likeliest of those that fired if it is sure enough to fire it alone, else the first
    that fired (``help_first`` in ``data/rails.toml``)."""
    reason = next((name for name in HELP_FIRST if name in fired), None)
    if reason is None and models and len(set(fired)) > 1:
        reason = learned_choice(text, fired)
    return reason or fired[0]


def _learned(text: str, vector=None) -> str | None:
    reason = learned_intent(text, vector)
    if reason == "dosing" and not about_substance(detection_form(text)):
        return None
    return reason


def guard_in(
    message: str | bytes,
    history: Sequence[Turn],
    embed: Embed | None,
    max_chars: int,
    offer: dict[str, str] | None = None,
) -> InputCheck:
    """Check the message, then the rails; ``ok`` lets the turn go on. ``offer`` (``source``,
    ``topics``) is what a refusal offers instead (the corpus profile's)."""
    check = check_message(message, max_chars)
    if check.status != "ok":
        return check
    reason = rail_for(check.text, history, embed)
    if reason is not None:
        return InputCheck("refused", check.text, refusal(reason, **(offer or {})), reason)
    return check
