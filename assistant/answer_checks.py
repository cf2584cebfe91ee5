"""What a question asks for, and whether the chosen quotes give it.

The answer stage quotes the sentences closest to a question. For a near-miss (the article covers
the subject but not the detail asked) those sentences are on the subject yet lack what was asked:
a number of the things counted, a date about the subject, a price, a percentage, an age, a name,
the attribute or kind of thing named, where a person works, who did what was asked. Each check
below reads the question and the quotes and returns why they do not answer it, or "" when they
do. The scorer already favours sentences of the asked kind, so when none of the chosen quotes
has it, the article does not give it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

from assistant.patterns import load_toml, pattern
from assistant.terms import QUESTION_WORD, WORD, content_terms, lexicon, stem

# Requests to produce something (a poem, a translation) are not questions about the article.
_ASKS_TASK = re.compile(
    r"^\W*(?:please\s+|can you\s+|could you\s+)?(?:(?:write|compose|draft|generate|create|"
    r"make up|sing|give)\s+(?:me\s+|us\s+)?(?:a|an|some|the)?\s*(?:[\w-]+\s+)?"
    r"(?:poem|haiku|story|song|essay|joke|limerick|letter|e-?mail|speech|tweet|code|script|"
    r"program|function|recipe|rap|sonnet|lyrics)|tell\s+(?:me\s+|us\s+)?an?\s+(?:joke|riddle|"
    r"poem|limerick)|translate\b)",
    re.I,
)
# Counts and dates: the best sentence must have one.
ASKS_COUNT = re.compile(r"\b(how many|how much|how old)\b", re.I)
_HAS_COUNT = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty|thirty|hundred|"
    r"dozen|single|half|several|many)\b",
    re.I,
)
_ASKS_AGE = re.compile(r"\b(how old|(at )?what age)\b", re.I)
_HAS_AGE = re.compile(r"\b(years? old|\d+-year-old|aged? \d+|age of|\d0s)\b", re.I)
ASKS_DATE = re.compile(r"^\s*when\b|\b(what year|which year|since when)\b", re.I)


# a time of any kind (``answer_types.toml``'s ``time``, which answer.py reads too)
ANSWER_TYPES = Path(__file__).with_name("answer_types.toml")
_HAS_DATE = pattern("${time}", load_toml(ANSWER_TYPES)["fragments"])
# "How many <things>": a number right before those things ("all 3 patients", "ten people").
_COUNTED = re.compile(
    r"\bhow many ((?:[\w-]+ ){0,2}?[\w-]+?)\b(?= (?:are|were|is|was|did|do|does|have|has|had|"
    r"took|in|on|of|at|will|would|can|could)\b|\W*$)",
    re.I,
)
_NUMBER = re.compile(
    r"^(\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|"
    r"thirty|forty|fifty|hundred|dozen|dozens|hundreds|thousands|millions)$",
    re.I,
)
_ASKS_COST = re.compile(
    r"\b(how much\b.*\b(cost|costs|pay|charge|charges|spend)|how expensive|"
    r"costs?|price[sd]?|fees?|afford\w*)\b",
    re.I,
)
_HAS_COST = re.compile(
    r"[$€£¥]|\b(dollars?|euros?|pounds?|costs?|price[sd]?|fees?|paid|afford\w*|insurance)\b", re.I
)
_ASKS_SHARE = re.compile(
    r"\b(what|which) (percentage|percent|proportion|fraction|share)\b|\b(success|response) rate",
    re.I,
)
_HAS_SHARE = re.compile(
    r"%|\bper ?cent|\b(proportion|half|most|majority|minority|ratio)\b|\d:\d", re.I
)
# "What is the <attribute> of X?", "What is X's <attribute>?"
_ASKS_ATTRIBUTE = re.compile(
    r"\b(?:what|who)(?:'s| is| was| are| were)\s+(?:the |a |an )?(?:[\w-]+ )?([\w-]+) of\b|"
    r"^\W*(?:what|who)(?:'s| is| was| are| were)\s+(?-i:(?:[A-Z][\w.-]* )*[A-Z][\w.-]*)['’]s "
    r"(?:[\w-]+ )?([\w-]+)\W*$",
    re.I,
)
_ASKS_WHO = re.compile(r"\bwho(m|se)?\b", re.I)
_ASKS_NAME = re.compile(r"\b(name|names|named|called|title|titled)\b", re.I)
# A name or a title: a run of capitalised words, or a short quoted title.
_NAME = re.compile(
    r"[“\"][^”\"]{6,}[”\"]|\b[A-Z][\w’']+(?: (?:of|and|the|for|in|to|a|with)?\s?[A-Z][\w’']+)+"
)
# "Which <thing>"
_ASKS_WHICH = re.compile(r"\bwhich (?:(?:kind|type|sort|one|ones) of )?([\w-]+)", re.I)
_GENERIC_HEADS = {"one", "ones", "of", "is", "are", "was", "were", "do", "does", "did", "can"}
# Where a person works or studies: an institution named beside them.
_ASKS_AFFILIATION = re.compile(
    r"\b(where|which (university|hospital|institution|college|clinic|centre|center|school|"
    r"company|organi[sz]ation|lab|laboratory))\b.*\b(work|works|working|teach|teaches|"
    r"practi[cs]e|practi[cs]es|based|employed|affiliated|studied|trained|professor|job)\b|"
    r"\b(affiliated|affiliation)\b",
    re.I,
)
_HAS_INSTITUTION = re.compile(
    r"\b(University|College|Institute|Centre|Center|Hospital|School|Clinic|Laboratory)\b"
)
# "Who founded X?", "Who led the study?": an act in the past, by somebody. Only the past tense:
# "Who is running a trial?" asks about an ongoing act the article may word otherwise.
_IRREGULAR_PAST = {  # past tense -> present, so either form in the quotes counts
    "led": "lead", "began": "begin", "built": "build", "ran": "run", "made": "make",
    "gave": "give", "paid": "pay", "wrote": "write", "won": "win", "brought": "bring",
    "taught": "teach", "chose": "choose", "drew": "draw", "put": "put", "set": "set",
}  # fmt: skip
_ASKS_AGENT = re.compile(
    rf"^\W*who\s+(?:first\s+|originally\s+|actually\s+)?([a-z]+ed|{'|'.join(_IRREGULAR_PAST)})"
    r"\b",
    re.I,
)
# A work's author is given by a name beside it ("Rachel Nuwer’s book, I Feel Love", "... by
# Maya Armstrong"), not by a verb.
_AUTHORSHIP = {"wrote", "authored", "published", "created", "directed", "produced"}
# Question words that frame what is asked rather than name it.
FRAME_WORDS = frozenset(
    {
        *("find", "found", "say", "said", "write", "wrote", "think", "mention", "discuss"),
        *("describe", "explain", "mean", "know", "learn", "conclude", "conclusion", "result"),
        *("show", "report", "suggest", "year", "time", "happen", "kind", "type", "sort", "way"),
        *("thing", "something", "anything", "else", "many", "much", "long", "often", "exactly"),
        *("main", "key", "big", "about", "then", "instead", "also", "really", "actually", "now"),
        *("again", "anyway", "there", "here", "please"),
        # light verbs and their particles ("come out", "get up") name nothing
        *("come", "go", "get", "out", "up", "off", "away", "back"),
    }
)


def is_task(question: str) -> bool:
    """A request to produce something (a poem, a translation), not a question."""
    return bool(_ASKS_TASK.search(question))


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
        return any(content_terms(m.group(0)) - asked for t in self.texts for m in _NAME.finditer(t))


@cache
def _frame() -> frozenset[str]:
    return frozenset(stem(w) for w in FRAME_WORDS)


def quantity(question: str, quotes: Quotes) -> str:
    """A price needs money, a percentage a share, an age an age, a count a number of the things
    counted."""
    if _ASKS_COST.search(question):
        return "" if any(_HAS_COST.search(t) for t in quotes.texts) else "it gives no price"
    if _ASKS_SHARE.search(question):
        found = any(_HAS_SHARE.search(t) for t in quotes.texts)
        return "" if found else "it gives no percentage for that"
    if _ASKS_AGE.search(question):
        return "" if any(_HAS_AGE.search(t) for t in quotes.texts) else "it gives no age for that"
    if ASKS_COUNT.search(question):
        if not _HAS_COUNT.search(quotes.best):
            return "it gives no number for that"
        counted = _COUNTED.search(question)
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
    if _ASKS_NAME.search(question):
        return "" if quotes.names_beyond(question) else "it gives no name for that"
    found = _ASKS_ATTRIBUTE.search(question)
    word = next((w for w in (found.groups() if found else ()) if w), "")
    if not word or stem(word) in _frame() or word.lower() in lexicon()[1]:
        return ""
    if not quotes.uses(word):
        return f"it never mentions {word}"
    if stem(word) in quotes.words or (_ASKS_WHO.search(question) and quotes.names_beyond(question)):
        return ""
    return f"it says nothing of {word}"


def which_thing(question: str, quotes: Quotes) -> str:
    """A "which <thing>" question needs that thing in the quotes, or a name ("Which journal
    published ..." is answered by "Expert Review Of Neurotherapeutics")."""
    found = _ASKS_WHICH.search(question)
    if not found or found.group(1).lower() in _GENERIC_HEADS:
        return ""
    word = found.group(1)
    if stem(word) in quotes.words or quotes.names_beyond(question):
        return ""
    return f"it says nothing of {word}"


def affiliation(question: str, quotes: Quotes) -> str:
    """Where a person works: an institution in a quote that names them."""
    person = quotes.name_terms & content_terms(question)  # the name as asked, not its aliases
    if not person or not _ASKS_AFFILIATION.search(question):
        return ""
    for text, terms in zip(quotes.texts, quotes.terms):
        if _HAS_INSTITUTION.search(text) and terms & person:
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
    found = _ASKS_AGENT.search(question)
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
        _NUMBER.match(w) and w.lower() not in given and wanted & set(stems[i + 1 : i + 3])
        for i, w in enumerate(words)
    )
