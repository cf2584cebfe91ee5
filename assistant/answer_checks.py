"""What a question asks for, and whether the chosen quotes give it.

The answer stage quotes the sentences closest to a question. For a near-miss (the article covers
the subject but not the detail asked) those sentences are on the subject yet lack what was asked:
a number of the things counted, a date about the subject, a price, a percentage, an age, a name,
the attribute or kind of thing named, where a person works, who did what was asked. Each check
below reads the question and the quotes and returns why they do not answer it, or "" when they
do. The scorer already favours sentences of the asked kind, so when none of the chosen quotes
has it, the article does not give it. What the checks read (the questions' shapes, the
quotes' answers, their word lists) is in ``answer_checks.toml``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

from assistant.patterns import load_toml, pattern, words
from assistant.terms import QUESTION_WORD, WORD, content_terms, lexicon, stem

# a time of any kind (``answer_types.toml``'s ``time``, which answer.py reads too)
ANSWER_TYPES = Path(__file__).with_name("answer_types.toml")
_HAS_DATE = pattern("${time}", load_toml(ANSWER_TYPES)["fragments"])
# What a question asks for and what a quote giving it looks like (``answer_checks.toml``).
_DATA = load_toml(Path(__file__).with_name("answer_checks.toml"))
_IRREGULAR_PAST: dict[str, str] = _DATA["irregular_past"]  # past tense -> present
_ASKS = {
    key: pattern(value, {"irregular_past": "|".join(_IRREGULAR_PAST)})
    for key, value in _DATA["asks"].items()
}
_GIVES = {key: pattern(value) for key, value in _DATA["gives"].items()}
ASKS_COUNT = _ASKS["count"]
ASKS_DATE = _ASKS["date"]
_GENERIC_HEADS = words(_DATA["words"]["generic_heads"])
_AUTHORSHIP = words(_DATA["words"]["authorship"])
FRAME_WORDS = words(_DATA["words"]["frame"])


def is_task(question: str) -> bool:
    """A request to produce something (a poem, a translation), not a question."""
    return bool(_ASKS["task"].search(question))


@dataclass(frozen=True)
class Quotes:
    """The chosen sentences, as the checks read them."""

    texts: tuple[str, ...]
    best: str  # the best-scoring sentence
    name_terms: frozenset[str] = frozenset()  # the cited names asked about, with their aliases
    uses: Callable[[str], bool] = lambda word: True  # does the article use this word?
    vocabulary: Collection[str] = frozenset()  # the article's stems

    @cached_property
    def terms(self) -> tuple[frozenset[str], ...]:
        return tuple(content_terms(t) for t in self.texts)

    @cached_property
    def words(self) -> set[str]:
        return set().union(*self.terms)

    def names_beyond(self, question: str) -> bool:
        """True when the quotes name something (a person, a title) the question does not."""
        asked = content_terms(question)
        return any(
            content_terms(m.group(0)) - asked
            for t in self.texts
            for m in _GIVES["name"].finditer(t)
        )


@cache
def _frame() -> frozenset[str]:
    return frozenset(stem(w) for w in FRAME_WORDS)


def quantity(question: str, quotes: Quotes) -> str:
    """A price needs money, a percentage a share, an age an age, a count a number of the things
    counted."""
    if _ASKS["cost"].search(question):
        return "" if any(_GIVES["cost"].search(t) for t in quotes.texts) else "it gives no price"
    if _ASKS["share"].search(question):
        found = any(_GIVES["share"].search(t) for t in quotes.texts)
        return "" if found else "it gives no percentage for that"
    if _ASKS["age"].search(question):
        return (
            "" if any(_GIVES["age"].search(t) for t in quotes.texts) else "it gives no age for that"
        )
    if ASKS_COUNT.search(question):
        if not _GIVES["count"].search(quotes.best):
            return "it gives no number for that"
        counted = _ASKS["counted"].search(question)
        if counted and not any(counts(counted.group(1), t, question) for t in quotes.texts):
            return f"it gives no number of {counted.group(1)}"
    return ""


def date(question: str, quotes: Quotes) -> str:
    """A date, in a quote about the question's subject ("banned in 1985" does not say when
    somebody was born)."""
    if not ASKS_DATE.search(question):
        return ""
    subject = content_terms(question) - _frame()
    dated = [ts for t, ts in zip(quotes.texts, quotes.terms) if _HAS_DATE.search(t)]
    if _HAS_DATE.search(quotes.best) and any(not subject or subject & ts for ts in dated):
        return ""
    return "it gives no date for that"


def named_attribute(question: str, quotes: Quotes) -> str:
    """A name or title asked for needs a name in the quotes; any other attribute ("medical
    specialty", "executive director") must be a word the article uses and the quotes name,
    unless a "who" question is answered by a name."""
    if _ASKS["name"].search(question):
        return "" if quotes.names_beyond(question) else "it gives no name for that"
    found = _ASKS["attribute"].search(question)
    word = next((w for w in (found.groups() if found else ()) if w), "")
    if not word or stem(word) in _frame() or word.lower() in lexicon()[1]:
        return ""
    if not quotes.uses(word):
        return f"it never mentions {word}"
    if stem(word) in quotes.words or (
        _ASKS["who"].search(question) and quotes.names_beyond(question)
    ):
        return ""
    return f"it says nothing of {word}"


def which_thing(question: str, quotes: Quotes) -> str:
    """A "which <thing>" question needs that thing in the quotes, or a name ("Which journal
    published ..." is answered by "Expert Review Of Neurotherapeutics")."""
    found = _ASKS["which"].search(question)
    if not found or found.group(1).lower() in _GENERIC_HEADS:
        return ""
    word = found.group(1)
    if stem(word) in quotes.words or quotes.names_beyond(question):
        return ""
    return f"it says nothing of {word}"


def affiliation(question: str, quotes: Quotes) -> str:
    """Where a person works: an institution in a quote that names them."""
    person = quotes.name_terms & content_terms(question)  # the name as asked, not its aliases
    if not person or not _ASKS["affiliation"].search(question):
        return ""
    for text, terms in zip(quotes.texts, quotes.terms):
        if _GIVES["institution"].search(text) and terms & person:
            return ""
    return "it does not say where they work"


def about_the_person(question: str, quotes: Quotes) -> str:
    """A question about a cited person or work: the quotes must use at least one of the
    article's words the question asks with ("Where did James Close get his PhD?": "PhD")."""
    if not quotes.name_terms:
        return ""
    asked = content_terms(question) - quotes.name_terms - _frame()
    seen = {t for t in asked if t in quotes.vocabulary}
    if not seen or seen & quotes.words:
        return ""
    words = [m.group(0) for m in QUESTION_WORD.finditer(question) if stem(m.group(0)) in seen]
    return f"what it says of them never mentions {', '.join(words or sorted(seen))}"


def agent(question: str, quotes: Quotes) -> str:
    """Who did something: the quotes must tell of that act ("Who founded MAPS?" is not answered
    by a sentence about the MAPS protocol), or, for a work, name somebody beyond the question."""
    found = _ASKS["agent"].search(question)
    if not found:
        return ""
    verb = found.group(1).lower()
    forms = {stem(verb), stem(_IRREGULAR_PAST.get(verb, verb))}
    if forms & quotes.words:
        return ""
    if verb in _AUTHORSHIP and quotes.names_beyond(question):
        return ""
    return f"it does not say who {verb} it"


CHECKS = (quantity, date, named_attribute, which_thing, affiliation, about_the_person, agent)


def missing_answer(question: str, quotes: Quotes) -> str:
    """Why the quotes do not give what the question asks for, or "" when they do."""
    return next((reason for check in CHECKS if (reason := check(question, quotes))), "")


def counts(things: str, text: str, question: str = "") -> bool:
    """True when the text has a number just before (within two words) one of the things; the
    question's own numbers ("the phase three trials") are not an answer."""
    stemmer, stopwords = lexicon()
    wanted = {stemmer.stemWord(w) for w in WORD.findall(things.lower()) if w not in stopwords}
    given = {w.lower() for w in re.findall(r"[\w.,]+", question)}
    words = [w.strip(".,") for w in re.findall(r"[\w.,]+", text)]
    stems = [stemmer.stemWord(w.lower()) for w in words]
    return any(
        _GIVES["number"].match(w) and w.lower() not in given and wanted & set(stems[i + 1 : i + 3])
        for i, w in enumerate(words)
    )
