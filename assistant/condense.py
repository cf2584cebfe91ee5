"""The condense stage: a follow-up rewritten as a standalone question from the recent turns'
subject (``assistant/subject.py``): pronouns resolved ("he", "her pain", "that study", "it"),
ellipsis completed ("and psilocybin?", "what about Hendricks?", "for what condition?"), and
the topic carried over to a follow-up that needs it. Self-contained questions come back
unchanged. Resolution is rule-based and reads only the history and the corpus."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from assistant.genders import FEMININE, MASCULINE, document_genders, infer_genders
from assistant.names import CitedName, NameIndex
from assistant.smalltalk import small_talk_kind
from assistant.subject import (
    AUX,
    WH,
    Subject,
    find_subject,
    is_person,
    mention_of,
    term_pattern,
    topic_of,
)
from assistant.types import Passage, Turn

_PERSON_PRONOUN = re.compile(r"\b(he|him|his|she|her|hers)\b", re.I)
_GROUP_PRONOUN = re.compile(r"\b(they|them|their)\b", re.I)
_THING_REFERENCE = re.compile(
    r"\b(?:(?P<dem>that|this|the|those|these) (?P<noun>study|trial|article|paper|review|book|"
    r"research|series|case series|documentary|podcast|protocol|session|sessions|drug|findings|"
    r"results|work|survey|investigation|analysis|story)|(?P<pro>it|its|them))\b",
    re.I,
)
_OF_REFERENCE = re.compile(
    r"\bthe (authors|researchers|results|findings|patients|participants|contributors|"
    r"conclusions?|risks|benefits|dangers|effects)\b(?! of\b)",
    re.I,
)
_ELLIPSIS = re.compile(
    r"^\s*(?:(?:and|but|also|ok(?:ay)?|so)[,\s]+)?(?:what about|how about|and|also|what of)\s+"
    r"(?P<t>.+?)\s*[?.!]*\s*$",
    re.I,
)
_LEADING_AND = re.compile(
    r"^\s*(?:(?:and|but|also|so|ok(?:ay)?|well|right|thanks|great|hmm+)[,.!\s]+)+(?=\S)", re.I
)
_CLAUSE_START = re.compile(rf"^(?:{WH}|{AUX}|i|you|we|he|she|it|they|there|let|tell)\b", re.I)
# "For what condition?", "When?", "How long?": a wh-phrase with no verb of its own (no
# auxiliary, no pronoun, no past tense), to be completed from the previous question.
_FRAGMENT = re.compile(
    rf"^\s*(?P<f>(?:(?:for|in|with|from|since|by|to|at|until|on)\s+)?{WH}"
    r"(?:\s+(?!(?:" + AUX[3:-1] + r"|he|she|her|him|his|it|its|they|them|their|i|you|we)\b)"
    r"(?![\w-]+ed\b)[\w-]+){0,2}|why not|how so|since when)"
    r"\s*[?.!]*\s*$",
    re.I,
)
_YES_NO = re.compile(rf"^{AUX}\b", re.I)
_DEICTIC = re.compile(
    r"\b(the two|both|either|then|there|too|instead|this|that|those|these|the same|"
    r"the other|else)\b",
    re.I,
)
# Words that say nothing of a topic: a follow-up made only of these plus stopwords is not
# self-contained ("Why?", "Tell me more").
_GENERIC = frozenset(
    ("tell", "more", "say", "says", "said", "anything", "else", "detail", "details", "explain",
     "mean", "means", "meaning", "happen", "happened", "happens", "make", "made", "work",
     "works", "really", "also", "again", "please", "know")
)  # fmt: skip


def _pronoun_fits(pronoun: str, cited: CitedName, genders: Mapping[str, str]) -> bool:
    gender = genders.get(cited.name)
    word = pronoun.lower()
    if gender == "m":
        return word in MASCULINE
    if gender == "f":
        return word in FEMININE
    return True


def _possessive(name: str) -> str:
    # A straight apostrophe, as people type it (the retrievers treat both alike).
    return f"{name}'" if name.endswith("s") and not name.endswith("ss") else f"{name}'s"


def _is_possessive_her(question: str, match: re.Match[str]) -> bool:
    rest = question[match.end() :]
    following = re.match(r"\s+([\w’'-]+)", rest)
    if not following:
        return False
    word = following.group(1).lower()
    return word not in {
        "to", "in", "on", "at", "by", "for", "with", "from", "about", "into", "and", "or",
        "as", "that", "than", "when", "after", "before", "if", "so", "again", "up", "out",
        "off", "back", "down", "over", "through", "during", "first", "anything", "something",
    }  # fmt: skip


def _fix_article(text: str, start: int) -> str:
    """Make "a"/"an" just before ``start`` agree with the word that now follows it."""
    before = re.search(r"\b(a|an|A|An)\s+$", text[:start])
    if not before:
        return text
    following = text[start:].lstrip()
    # an acronym said letter by letter takes "an" when its first letter sounds a vowel (an MDMA
    # session, an LSD trip, an FAQ)
    vowel = bool(re.match(r"(?i:[aeio]|u(?!s)|honest|hour)|[AEFHILMNORSX][A-Z]+\b", following))
    article = "an" if vowel else "a"
    if before.group(1)[0].isupper():
        article = article.capitalize()
    return text[: before.start()] + article + " " + text[start:]


def _substitute(text: str, match: re.Match[str], replacement: str) -> str:
    out = text[: match.start()] + replacement + text[match.end() :]
    return _fix_article(out, match.start())


def _resolve_people(
    question: str, subject: Subject, genders: Mapping[str, str]
) -> tuple[str, bool]:
    """Replace the first personal pronoun with the person it points to."""
    match = _PERSON_PRONOUN.search(question)
    if not match:
        return question, False
    for cited, _ in subject.people:
        if _pronoun_fits(match.group(1), cited, genders):
            name = cited.name
            word = match.group(1).lower()
            if word in ("his", "hers") or (word == "her" and _is_possessive_her(question, match)):
                return _substitute(question, match, _possessive(name)), True
            return _substitute(question, match, name), True
    return question, False


def _resolve_group(question: str, subject: Subject) -> tuple[str, bool]:
    """ "they"/"their" of a cited group ("Close et al.", the authors of a work)."""
    match = _GROUP_PRONOUN.search(question)
    if not match or not subject.mention or "et al" not in subject.mention.lower():
        return question, False
    if match.group(1).lower() == "their":
        return _substitute(question, match, _possessive(subject.mention)), True
    return _substitute(question, match, subject.mention), True


def _thing_for(subject: Subject, plural: bool) -> str | None:
    if subject.topic and subject.topic.plural == plural and not _refers_to_person(subject):
        return subject.topic.text
    if subject.substance and not plural:
        return subject.substance
    return None


def _refers_to_person(subject: Subject) -> bool:
    # "Who is Callie?" gives the topic "Callie": a person, not a thing "it" can point to.
    return bool(
        subject.topic
        and subject.person
        and subject.topic.text.lower()
        in {a.lower() for a in subject.person.aliases} | {subject.mention.lower()}
    )


def _resolve_things(question: str, subject: Subject, pronouns: bool = True) -> tuple[str, bool]:
    """Replace "it", "that study", "them"... with the topic, or the person's work (only the
    demonstratives, "that study", when ``pronouns`` is off)."""
    for match in _THING_REFERENCE.finditer(question):
        if match.group("pro") and not pronouns:
            continue
        resolved = _resolve_thing(question, match, subject)
        if resolved:
            return resolved, True
    return question, False


def _resolve_thing(question: str, match: re.Match[str], subject: Subject) -> str | None:
    if match.group("pro"):
        word = match.group("pro").lower()
        if word == "it" and re.match(
            r"\s+(?:is|was|'s)\s+\w+\s+(?:to|that)\b", question[match.end() :]
        ):
            return None  # "is it safe to ...": no antecedent
        if (
            word == "it"
            and re.search(r"\b(?:is|was)\s+$", question[: match.start()])
            and re.match(
                r"\s+(?:safe|legal|dangerous|possible|true|ok|okay|risky|wise)\b",
                question[match.end() :],
            )
        ):
            return None
        thing = _thing_for(subject, plural=word == "them")
        if not thing:
            return None
        return _substitute(question, match, _possessive(thing) if word == "its" else thing)
    noun = match.group("noun").lower()
    if match.group("dem").lower() == "the" and noun not in ("study", "trial", "series", "review"):
        return None  # "the session" may be any session; leave it to carry-over
    plural = noun.endswith("s") and noun != "series"
    thing = _thing_for(subject, plural=plural)
    if thing:
        return _substitute(question, match, thing)
    if subject.person:
        return _substitute(question, match, f"{_possessive(subject.mention)} {noun}")
    return None


def _resolve_of(question: str, subject: Subject) -> tuple[str, bool]:
    """ "the authors" -> "the authors of the complex system article"."""
    match = _OF_REFERENCE.search(question)
    if not match:
        return question, False
    if subject.topic and not _refers_to_person(subject):
        return question[: match.end()] + f" of {subject.topic.text}" + question[match.end() :], True
    if subject.person and match.group(1).lower() not in ("patients", "participants"):
        said = f"{_possessive(subject.mention)} {match.group(1)}"
        return question[: match.start()] + said + question[match.end() :], True
    return question, False


def _swap_in(previous: str, new: str, names: NameIndex, terms: re.Pattern[str]) -> str | None:
    """The previous question with its parallel element replaced by ``new`` (ellipsis)."""
    new_names = names.find(new)
    old_names = names.find(previous)
    if len(new_names) == 1 and re.sub(r"[\s.]+", " ", new).strip().lower() in {
        a.lower() for a in new_names[0].aliases
    }:
        new = new_names[0].name  # "what about Hendricks?" -> Peter Hendricks
    if new_names and old_names:
        return _replace_phrase(previous, mention_of(previous, old_names[0]), new)
    new_substance = terms.search(new)
    old_substance = terms.search(previous)
    if new_substance and old_substance:
        return _replace_phrase(previous, old_substance.group(1), new)
    topic = topic_of(previous)
    if topic and not new_names and not new_substance:
        head = re.split(r"\s+in\s+", topic.text, maxsplit=1)[0]
        return _replace_phrase(previous, head, new)
    if topic and (new_names or new_substance):
        return _replace_phrase(previous, topic.text, new)
    return None


def _replace_phrase(text: str, old: str, new: str) -> str | None:
    pattern = re.compile(rf"(?<!\w){re.escape(old)}(?:['’]s)?(?!\w)", re.I)
    match = pattern.search(text)
    if not match:
        return None
    said = match.group(0)
    replacement = _possessive(new) if said.endswith(("'s", "’s")) and not old.endswith("s") else new
    return _substitute(text, match, replacement)


def _with_context(question: str, subject: Subject) -> str:
    """Carry the topic over: "..., in the MAPS protocol?"; with no topic to name, quote the
    previous question as context."""
    if subject.topic and not _refers_to_person(subject):
        core = re.sub(r"[?.!\s]+$", "", question)
        if subject.topic.text.lower() not in core.lower():
            return _finish(f"{core}, in {subject.topic.text}?")
    return f"{_finish(question)} (following up on: {_finish(subject.question)})"


def _finish(text: str) -> str:
    """Capitalised, ending in one question mark (or the user's own end punctuation)."""
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    if not re.search(r"[?!.]$", text):
        text += "?"
    return text


def _first_person_at(text: str, names: NameIndex) -> int | None:
    """Where the first cited person is named in ``text`` (None: nobody is)."""
    starts = []
    for cited in names.find(text):
        if not is_person(cited):
            continue
        for alias in cited.aliases:
            body = r"\s+".join(re.escape(w) for w in alias.split())
            match = re.search(rf"(?<!\w){body}(?!\w)", text, re.I)
            if match:
                starts.append(match.start())
    return min(starts) if starts else None


def _anchored(question: str, names: NameIndex, terms: re.Pattern[str]) -> bool:
    """The question names its own subject: a cited person or work, or a subject term."""
    return bool(names.find(question) or terms.search(question))


def _content_words(text: str) -> set[str]:
    from assistant.terms import content_terms

    return content_terms(text) - {t for w in _GENERIC for t in content_terms(w)}


def condense_followup(
    question: str,
    history: Sequence[Turn],
    names: NameIndex,
    *,
    passages: Mapping[str, Passage] | None = None,
    terms: tuple[str, ...] = (),
    window: int = 4,
) -> str:
    """A standalone version of ``question``, from the last ``window`` turns of ``history``:
    pronouns ("he", "her pain", "that study", "it") resolved to the person or topic last
    discussed, ellipsis ("and psilocybin?", "what about Hendricks?", "for what condition?")
    completed from the previous question, and topic carried over to a follow-up that needs
    it. Self-contained questions come back unchanged. ``passages`` (the corpus) lets "he"
    and "she" tell people apart; ``terms`` (the profile's) are subjects "it" can point to."""
    if not history or small_talk_kind(question) is not None:
        return question
    subject = find_subject(history, names, window, terms)
    term = term_pattern(terms)
    if subject is None:
        return question

    ellipsis = _ELLIPSIS.match(question)
    if ellipsis and not _CLAUSE_START.match(ellipsis.group("t")):
        swapped = _swap_in(subject.question, ellipsis.group("t"), names, term)
        if swapped:
            return _finish(swapped)
        return _with_context(question, subject)
    body = _LEADING_AND.sub("", question)

    fragment = _FRAGMENT.match(body)
    if fragment and len(body.split()) <= 4:
        previous = re.sub(r"[?.!\s]+$", "", subject.question)
        if _YES_NO.match(previous):
            return _finish(f"{fragment.group('f')} {previous[0].lower()}{previous[1:]}")
        return _with_context(body, subject)

    text, changed = body, False
    pronoun = _PERSON_PRONOUN.search(body) or _GROUP_PRONOUN.search(body)
    named_at = _first_person_at(body, names)
    # "Where does Hendricks work and what does he study?": "he" has its antecedent right there.
    if pronoun and (named_at is None or named_at > pronoun.start()):
        genders = dict(document_genders(passages, names))
        if subject.source_text:
            genders = {**infer_genders([subject.source_text], names), **genders}
        text, person = _resolve_people(text, subject, genders)
        text, group = _resolve_group(text, subject)
        changed = person or group
    # "Is it safe to mix MDMA with alcohol?": a question naming its own substance keeps "it".
    text, thing = _resolve_things(text, subject, pronouns=not term.search(body))
    changed = changed or thing
    text, of = _resolve_of(text, subject)
    changed = changed or of
    if changed:
        return _finish(text)

    if _anchored(body, names, term):
        return question
    words = _content_words(body)
    needs_context = (
        not words
        or _PERSON_PRONOUN.search(body)
        or _GROUP_PRONOUN.search(body)
        or _THING_REFERENCE.search(body)
        or _DEICTIC.search(body)
    )
    if needs_context:
        return _with_context(body, subject)
    return question
