"""What the recent turns were about: the person last named, the noun phrase the last question
asked about ("the microdosing case series"), a subject term of the corpus ("MDMA"), and the
last turn's quotes. The condense stage rewrites follow-ups from it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from assistant.names import CitedName, NameIndex
from assistant.patterns import load_toml, pattern, words
from assistant.smalltalk import small_talk_kind
from assistant.types import Turn

_NEVER = re.compile(r"(?!)")


@lru_cache(maxsize=16)
def term_pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    """Any of the corpus's subject terms as a whole word (group 1); never matches without any."""
    if not terms:
        return _NEVER
    alternatives = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
    return re.compile(rf"(?<!\w)({alternatives})(?!\w)", re.I)


# What a question asks about (``condense.toml``'s ``[subject]``).
_CONDENSE = load_toml(Path(__file__).with_name("condense.toml"))
_DATA = _CONDENSE["subject"]
# Question shapes whose slot names the thing asked about; the first that matches gives the
# topic noun phrase of a question ("What did the microdosing case series find?").
_TOPIC_SHAPES = tuple(pattern(shape) for shape in _DATA["topic_shapes"])
_PEOPLE_WORDS = pattern(_DATA["people_words"])
_HEAD_END, _VERB_END = pattern(_DATA["head_end"]), pattern(_DATA["verb_end"])
_DETERMINER = pattern(_DATA["determiner"])
_SINGULAR_S = tuple(words(_CONDENSE["words"]["singular_s"]))  # "series": no plural


@dataclass(frozen=True)
class Topic:
    """A noun phrase a follow-up can point back to, and whether it is plural."""

    text: str
    plural: bool = False


@dataclass(frozen=True)
class Subject:
    """What the recent turns were about."""

    question: str  # the previous standalone question (the context of last resort)
    person: CitedName | None = None  # the person last named, if any
    mention: str = ""  # the person as the user wrote them ("Close et al.")
    people: tuple[tuple[CitedName, str], ...] = ()  # every recent person, newest first
    topic: Topic | None = None  # the noun phrase of the previous question
    substance: str | None = None  # a term of the corpus profile ("MDMA")
    source_text: str = ""  # the previous turn's quotes


def is_person(cited: CitedName) -> bool:
    # MAPS and the works carry no personal pronoun; a person's name has a lowercase letter.
    return any(c.islower() for c in cited.name) and not cited.name.isupper()


def strip_context(standalone: str) -> tuple[str, str]:
    """Split a condensed question into its own words and the context it was given."""
    core, sep, context = standalone.partition(" (following up on: ")
    return core.strip(), context.rstrip(")").strip() if sep else ""


def _plural(phrase: str) -> bool:
    head = _HEAD_END.split(phrase, maxsplit=1)[0]
    words = head.split()
    if not words:
        return False
    last = words[-1].lower().strip("’'.,")
    if " and " in head.lower():
        return True
    return last.endswith("s") and not last.endswith(_SINGULAR_S)


def topic_of(question: str) -> Topic | None:
    """The noun phrase a question is about ("the risks of MDMA"), or None."""
    text = re.sub(r"[?.!\s]+$", "", strip_context(question)[0]).strip()
    for shape in _TOPIC_SHAPES:
        match = shape.match(text)
        if not match:
            continue
        phrase = match.group("t").strip(" ,;:")
        if not phrase or _PEOPLE_WORDS.fullmatch(phrase) or len(phrase.split()) > 12:
            continue
        if _VERB_END.search(phrase) and len(phrase.split()) > 1:
            continue  # "What is Peter Hendricks studying": a clause, not a noun phrase
        if shape.pattern.startswith("^which") and not _DETERMINER.match(phrase):
            phrase = f"the {phrase}"
        return Topic(phrase, _plural(phrase))
    return None


def mention_of(text: str, cited: CitedName) -> str:
    """The longest way ``text`` names ``cited`` ("Close et al."), else the canonical name."""
    for alias in sorted(cited.aliases, key=len, reverse=True):
        body = r"\s+".join(re.escape(w) for w in alias.split())
        match = re.search(rf"(?<!\w){body}(\.)?(?!\w)", text, re.I)
        if match:
            said = match.group(0)
            if said.lower().endswith("et al") and not said.endswith("."):
                said += "."
            return said
    return cited.name


def _turns_in_view(history: Sequence[Turn], window: int) -> list[Turn]:
    """The recent turns worth reading, newest first: small talk and invalid input skipped."""
    useful = [t for t in history if t.status != "invalid" and small_talk_kind(t.question) is None]
    return list(reversed(useful[-window:]))


def find_subject(
    history: Sequence[Turn], names: NameIndex, window: int = 4, terms: tuple[str, ...] = ()
) -> Subject | None:
    """What the recent turns were about, or None when there is nothing to refer back to;
    ``terms`` are the corpus's subjects readers name (its profile's ``terms``)."""
    turns = _turns_in_view(history, window)
    if not turns:
        return None
    last = turns[0]
    question = strip_context(last.standalone_question)[0] or last.question
    people: list[tuple[CitedName, str]] = []
    for turn in turns:
        core, context = strip_context(turn.standalone_question)
        for text in (core, context):
            for cited in names.find(text):
                if is_person(cited) and all(cited.name != p.name for p, _ in people):
                    people.append((cited, mention_of(text, cited)))
    topic = None
    substance = None
    for turn in turns[:2]:
        core, context = strip_context(turn.standalone_question)
        for text in (core, context):
            topic = topic or topic_of(text)
            found = term_pattern(terms).search(text)
            substance = substance or (found.group(1) if found else None)
        if topic or substance:
            break
    person, mention = people[0] if people else (None, "")
    return Subject(
        question=question,
        person=person,
        mention=mention,
        people=tuple(people),
        topic=topic,
        substance=substance,
        source_text=" ".join(s.quote for s in last.sources),
    )
