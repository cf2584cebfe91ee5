"""The condense stage: a follow-up rewritten as a standalone question from the recent turns'
subject (``assistant/subject.py``): pronouns resolved ("he", "her pain", "that study", "it"),
ellipsis completed ("and psilocybin?", "what about Hendricks?", "for what condition?"), and
the topic carried over to a follow-up that needs it. Self-contained questions come back
unchanged. Resolution is rule-based and reads only the history and the corpus; the patterns it
reads are in ``condense.toml``, the in-place edits in ``assistant/phrasing.py``."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from assistant.genders import FEMININE, MASCULINE, document_genders, infer_genders
from assistant.names import CitedName, NameIndex
from assistant.patterns import load_toml, pattern, words
from assistant.phrasing import finish, possessive, replace_phrase, substitute
from assistant.smalltalk import small_talk_kind
from assistant.subject import (
    Subject,
    find_subject,
    is_person,
    mention_of,
    term_pattern,
    topic_of,
)
from assistant.types import Passage, Turn

# What points back, what is elliptical, what a rewrite reads (``condense.toml``).
_DATA = load_toml(Path(__file__).with_name("condense.toml"))
_REFERS = {key: pattern(v, _DATA["fragments"]) for key, v in _DATA["refers"].items()}
_FOLLOWUP = {key: pattern(v, _DATA["fragments"]) for key, v in _DATA["followup"].items()}
_REWRITE = {key: pattern(v) for key, v in _DATA["rewrite"].items()}
_PERSON_PRONOUN, _GROUP_PRONOUN = _REFERS["person"], _REFERS["group"]
_THING_REFERENCE, _OF_REFERENCE, _DEICTIC = _REFERS["thing"], _REFERS["of"], _REFERS["deictic"]
_ELLIPSIS, _LEADING_AND = _FOLLOWUP["ellipsis"], _FOLLOWUP["leading_and"]
_CLAUSE_START, _FRAGMENT, _YES_NO = (_FOLLOWUP[k] for k in ("clause_start", "fragment", "yes_no"))
# Words that say nothing of a topic; after "her", words that make it no possessive.
_GENERIC = words(_DATA["words"]["generic"])
_NOT_POSSESSED = words(_DATA["words"]["not_possessed"])


def _pronoun_fits(pronoun: str, cited: CitedName, genders: Mapping[str, str]) -> bool:
    gender = genders.get(cited.name)
    word = pronoun.lower()
    if gender == "m":
        return word in MASCULINE
    if gender == "f":
        return word in FEMININE
    return True


def _is_possessive_her(question: str, match: re.Match[str]) -> bool:
    rest = question[match.end() :]
    following = re.match(r"\s+([\w’'-]+)", rest)
    if not following:
        return False
    return following.group(1).lower() not in _NOT_POSSESSED


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
                return substitute(question, match, possessive(name)), True
            return substitute(question, match, name), True
    return question, False


def _resolve_group(question: str, subject: Subject) -> tuple[str, bool]:
    """ "they"/"their" of a cited group ("Close et al.", the authors of a work)."""
    match = _GROUP_PRONOUN.search(question)
    if not match or not subject.mention or "et al" not in subject.mention.lower():
        return question, False
    if match.group(1).lower() == "their":
        return substitute(question, match, possessive(subject.mention)), True
    return substitute(question, match, subject.mention), True


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
        before, after = question[: match.start()], question[match.end() :]
        if word == "it" and _REWRITE["it_clause"].match(after):
            return None  # "it is hard to ...": no antecedent
        if (
            word == "it"
            and _REWRITE["is_before"].search(before)
            and _REWRITE["judgement_after"].match(after)
        ):
            return None  # "is it safe": no antecedent
        thing = _thing_for(subject, plural=word == "them")
        if not thing:
            return None
        return substitute(question, match, possessive(thing) if word == "its" else thing)
    noun = match.group("noun").lower()
    if match.group("dem").lower() == "the" and noun not in ("study", "trial", "series", "review"):
        return None  # "the session" may be any session; leave it to carry-over
    plural = noun.endswith("s") and noun != "series"
    thing = _thing_for(subject, plural=plural)
    if thing:
        return substitute(question, match, thing)
    if subject.person:
        return substitute(question, match, f"{possessive(subject.mention)} {noun}")
    return None


def _resolve_of(question: str, subject: Subject) -> tuple[str, bool]:
    """ "the authors" -> "the authors of the complex system article"."""
    match = _OF_REFERENCE.search(question)
    if not match:
        return question, False
    if subject.topic and not _refers_to_person(subject):
        return question[: match.end()] + f" of {subject.topic.text}" + question[match.end() :], True
    if subject.person and match.group(1).lower() not in ("patients", "participants"):
        said = f"{possessive(subject.mention)} {match.group(1)}"
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
        return replace_phrase(previous, mention_of(previous, old_names[0]), new)
    new_substance = terms.search(new)
    old_substance = terms.search(previous)
    if new_substance and old_substance:
        return replace_phrase(previous, old_substance.group(1), new)
    topic = topic_of(previous)
    if topic and not new_names and not new_substance:
        head = _REWRITE["in_phrase"].split(topic.text, maxsplit=1)[0]
        return replace_phrase(previous, head, new)
    if topic and (new_names or new_substance):
        return replace_phrase(previous, topic.text, new)
    return None


def _with_context(question: str, subject: Subject) -> str:
    """Carry the topic over: "..., in the MAPS protocol?"; with no topic to name, quote the
    previous question as context."""
    if subject.topic and not _refers_to_person(subject):
        core = re.sub(r"[?.!\s]+$", "", question)
        if subject.topic.text.lower() not in core.lower():
            return finish(f"{core}, in {subject.topic.text}?")
    return f"{finish(question)} (following up on: {finish(subject.question)})"


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
            return finish(swapped)
        return _with_context(question, subject)
    body = _LEADING_AND.sub("", question)

    fragment = _FRAGMENT.match(body)
    if fragment and len(body.split()) <= 4:
        previous = re.sub(r"[?.!\s]+$", "", subject.question)
        if _YES_NO.match(previous):
            return finish(f"{fragment.group('f')} {previous[0].lower()}{previous[1:]}")
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
        return finish(text)

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
