"""The condense stage: turn a follow-up into a standalone question using the history; answer
small talk ("hi", "thanks", "what can you do?") without retrieval; keep bounded histories.

Resolution is rule-based and reads the recent turns for a *subject*: the person last named
(checked against the pronoun's gender where the article shows it), the noun phrase the last
question was about ("the microdosing case series"), a substance, and the last turn's quotes.
Self-contained questions come back unchanged.
"""

from __future__ import annotations

import re
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from threading import Lock

from assistant.retrieval import CitedName, NameIndex
from assistant.types import Passage, Turn

# ---------------------------------------------------------------------------------------------
# Small talk: greetings, thanks and "what can you do?" get a short helpful reply.

EXAMPLE_QUESTIONS = (
    "What did Close et al. find?",
    "How long is an MDMA-assisted therapy session?",
    "How is psilocybin therapy different from MDMA therapy?",
    "What happened to Callie's chronic pain?",
    "What is Peter Hendricks studying?",
    "What did the microdosing case series find?",
)

ABOUT = (
    "I answer questions about one article, *Psychedelic-Assisted Therapy for Chronic Pain and "
    "Other Symptoms* by Kent Bassett, quoting it word for word and citing each quote. "
    "It covers how MDMA- and psilocybin-assisted therapy sessions work, the risks of MDMA, "
    "the story of Callie, and the research on psychedelics and chronic pain "
    "(Hendricks, Castellanos, Armstrong, Close). I don't give dosing advice.\n\n"
    "You could ask, for example:\n\n" + "\n".join(f"- {q}" for q in EXAMPLE_QUESTIONS[:4])
)

_GREETING_REPLY = "Hello! " + ABOUT
_THANKS_REPLY = "You're welcome. Ask me anything else about the article whenever you like."
_BYE_REPLY = "Goodbye, and take care."

_POLITE = r"(?:\s+(?:there|again|everyone|all|assistant|bot|so much|a lot|very much|a bunch))*"
_END = r"[\s!.,:;)(\-–—~*]*(?::\)|:-\)|🙂|😊|👋|🙏)?[\s!.]*"
_GREETING = re.compile(
    rf"^\s*(?:hi+|hello+|hey+|hiya|howdy|greetings|good\s+(?:morning|afternoon|evening|day)|"
    rf"yo|hallo|bonjour|hola){_POLITE}{_END}$",
    re.I,
)
_THANKS = re.compile(
    rf"^\s*(?:(?:ok(?:ay)?|great|cool|nice|perfect|awesome|brilliant|got it|good|right)"
    rf"[\s,!.]*)?(?:thanks|thank\s+you|thx|ty|cheers|many\s+thanks|much\s+appreciated)"
    rf"{_POLITE}(?:[\s,!.]+(?:that(?:'s|\s+is|\s+was)\s+)?(?:very\s+|really\s+)?"
    rf"(?:helpful|useful|great|interesting|clear))?{_END}$",
    re.I,
)
_BYE = re.compile(rf"^\s*(?:bye|goodbye|good\s*bye|see\s+you|see\s+ya|ciao){_POLITE}{_END}$", re.I)
_HELP = re.compile(
    r"^\s*(?:(?:hi|hello|hey)[\s,!.]+)?(?:"
    r"what\s+(?:can|do|could)\s+you\s+(?:do|help\s+(?:me\s+)?with|answer|know|cover|tell\s+me)|"
    r"what\s+(?:can|should|could)\s+i\s+ask(?:\s+you)?(?:\s+about)?|"
    r"how\s+(?:does\s+this|do\s+(?:you|i\s+use\s+this))\s+work|"
    r"(?:who|what)\s+are\s+you|help(?:\s+me)?|"
    r"what\s+(?:is|'s)\s+this\s+(?:app|assistant|tool|chat|bot|page)(?:\s+for)?|"
    r"what\s+do\s+you\s+do"
    r")(?:\s+(?:here|for\s+me))?[\s?!.]*$",
    re.I,
)


def small_talk(message: str) -> str | None:
    """A short reply for a greeting, thanks, goodbye or "what can you do?"; None for
    anything else (anything that might be a question about the article)."""
    if not isinstance(message, str) or len(message) > 80:
        return None
    if _HELP.match(message):
        return ABOUT
    if _GREETING.match(message):
        return _GREETING_REPLY
    if _THANKS.match(message):
        return _THANKS_REPLY
    if _BYE.match(message):
        return _BYE_REPLY
    return None


# ---------------------------------------------------------------------------------------------
# The subject of the recent turns.

# Substances and therapies the article discusses, as readers write them.
_SUBSTANCES = (
    "MDMA",
    "psilocybin",
    "LSD",
    "ketamine",
    "ayahuasca",
    "ecstasy",
    "molly",
    "magic mushrooms",
    "psychedelics",
    "SSRIs",
)
_SUBSTANCE = re.compile(r"(?<!\w)(" + "|".join(_SUBSTANCES) + r")(?!\w)", re.I)

_AUX = r"(?:is|are|was|were|do|does|did|can|could|will|would|has|have|had|should|shall|may|might)"
_WH = r"(?:what|which|who|whom|whose|when|where|why|how)"

# Question shapes whose slot names the thing asked about; the first that matches gives the
# topic noun phrase of a question ("What did the microdosing case series find?").
_TOPIC_SHAPES = tuple(
    re.compile(p, re.I)
    for p in (
        r"^(?:can you |could you |please )*(?:tell me|talk|teach me)(?: a bit| more)? about "
        r"(?P<t>.+)$",
        r"^(?:describe|explain|summari[sz]e) (?P<t>.+)$",
        r"^what (?:did|does|do) (?P<t>.+?) (?:find|found|conclude|report|show|say|write|"
        r"suggest|recommend|stand for|mean|involve|cover|claim|argue|propose)(?:\b.*)?$",
        r"^(?:what|who) (?:is|are|was|were) (?P<t>(?!it\b|this\b|that\b|they\b|he\b|she\b).+?)"
        r"(?: (?:about|like|known for|for))?$",
        r"^how (?:long|much|often|many|safe|social) (?:is|are|was|were) (?P<t>.+?)"
        r"(?: (?:last|take))?$",
        r"^which (?P<t>[\w’' -]+?) (?:does|did|do|is|was|are|were|has|have) .+$",
        r"^(?:how|why) (?:is|are|was|were|does|do|did) (?P<t>[\w’' -]+?) "
        r"(?:different|work|help|used|done|run|differ)(?:\b.*)?$",
        r"^what happens (?:in|during|at|before|after) (?P<t>.+)$",
    )
)
_PEOPLE_WORDS = re.compile(r"\b(he|she|him|her|his|hers|they|them|their|the author)\b", re.I)
_SINGULAR_S = ("series", "analysis", "status", "news", "sickness", "ess", "ss", "us", "is")


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
    substance: str | None = None
    source_text: str = ""  # the previous turn's quotes


def _is_person(cited: CitedName) -> bool:
    # MAPS and the works carry no personal pronoun; a person's name has a lowercase letter.
    return any(c.islower() for c in cited.name) and not cited.name.isupper()


def _strip_context(standalone: str) -> tuple[str, str]:
    """Split a condensed question into its own words and the context it was given."""
    core, sep, context = standalone.partition(" (following up on: ")
    return core.strip(), context.rstrip(")").strip() if sep else ""


def _plural(phrase: str) -> bool:
    head = re.split(r"\s+(?:of|in|on|by|for|about|from|with|to|at)\s+", phrase, maxsplit=1)[0]
    words = head.split()
    if not words:
        return False
    last = words[-1].lower().strip("’'.,")
    if " and " in head.lower():
        return True
    return last.endswith("s") and not last.endswith(_SINGULAR_S)


def topic_of(question: str) -> Topic | None:
    """The noun phrase a question is about ("the risks of MDMA"), or None."""
    text = re.sub(r"[?.!\s]+$", "", _strip_context(question)[0]).strip()
    for shape in _TOPIC_SHAPES:
        match = shape.match(text)
        if not match:
            continue
        phrase = match.group("t").strip(" ,;:")
        if not phrase or _PEOPLE_WORDS.fullmatch(phrase) or len(phrase.split()) > 12:
            continue
        if re.search(r"\w(?:ing|ed)$", phrase) and len(phrase.split()) > 1:
            continue  # "What is Peter Hendricks studying": a clause, not a noun phrase
        if shape.pattern.startswith("^which") and not re.match(r"(?i)(the|a|an)\b", phrase):
            phrase = f"the {phrase}"
        return Topic(phrase, _plural(phrase))
    return None


def _mention(text: str, cited: CitedName) -> str:
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
    useful = [t for t in history if t.status != "invalid" and small_talk(t.question) is None]
    return list(reversed(useful[-window:]))


def find_subject(history: Sequence[Turn], names: NameIndex, window: int = 4) -> Subject | None:
    """What the recent turns were about, or None when there is nothing to refer back to."""
    turns = _turns_in_view(history, window)
    if not turns:
        return None
    last = turns[0]
    question = _strip_context(last.standalone_question)[0] or last.question
    people: list[tuple[CitedName, str]] = []
    for turn in turns:
        core, context = _strip_context(turn.standalone_question)
        for text in (core, context):
            for cited in names.find(text):
                if _is_person(cited) and all(cited.name != p.name for p, _ in people):
                    people.append((cited, _mention(text, cited)))
    topic = None
    substance = None
    for turn in turns[:2]:
        core, context = _strip_context(turn.standalone_question)
        for text in (core, context):
            topic = topic or topic_of(text)
            found = _SUBSTANCE.search(text)
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


# ---------------------------------------------------------------------------------------------
# Who is "he" and who is "she": read off the article's own pronouns.

_GENDERED = re.compile(r"\b(he|him|his|himself|she|her|hers|herself)\b", re.I)
_FEMININE = {"she", "her", "hers", "herself"}
_MASCULINE = {"he", "him", "his", "himself"}
# How far after a name its pronoun is looked for: "James Close, who works at the Centre for
# Psychedelic Research, ..., United Kingdom. In an article he co-authored" is 150 characters.
_GENDER_WINDOW = 200
_gender_cache: dict[int, tuple[object, dict[str, str]]] = {}
_gender_lock = Lock()


def infer_genders(texts: Iterable[str], names: NameIndex) -> dict[str, str]:
    """``{"James Close": "m", "Callie": "f", ...}`` from the first gendered pronoun after each
    mention (before the next named person, the paragraph end, or ``_GENDER_WINDOW``
    characters); a majority of mentions decides; ties and names with no pronoun stay unknown."""
    people = [c for c in names.names.values() if _is_person(c)]
    patterns = {
        c.name: re.compile(
            r"(?<!\w)(?:"
            + "|".join(
                r"\s+".join(re.escape(w) for w in a.split())
                for a in sorted(c.aliases, key=len, reverse=True)
            )
            + r")(?!\w)",
            re.I,
        )
        for c in people
    }
    votes: dict[str, list[int]] = {c.name: [0, 0] for c in people}
    for text in texts:
        mentions = sorted(
            (m.start(), m.end(), name) for name, p in patterns.items() for m in p.finditer(text)
        )
        for i, (_, end, name) in enumerate(mentions):
            stop = len(text)
            for start2, _, other in mentions[i + 1 :]:
                if other != name:
                    stop = start2
                    break
            window = text[end : min(stop, end + _GENDER_WINDOW)].split("\n\n", 1)[0]
            pronoun = _GENDERED.search(window)
            if pronoun:
                word = pronoun.group(1).lower()
                votes[name][0 if word in _MASCULINE else 1] += 1
    genders = {}
    for name, (masculine, feminine) in votes.items():
        if masculine != feminine:
            genders[name] = "m" if masculine > feminine else "f"
    return genders


def _article_genders(passages: Mapping[str, Passage] | None, names: NameIndex) -> dict[str, str]:
    if not passages:
        return {}
    with _gender_lock:
        cached = _gender_cache.get(id(passages))
        if cached and cached[0] is passages:
            return cached[1]
    ordered = sorted(passages.values(), key=lambda p: (p.doc_id, p.order))
    genders = infer_genders(["\n\n".join(p.text for p in ordered)], names)
    with _gender_lock:
        _gender_cache[id(passages)] = (passages, genders)
    return genders


# ---------------------------------------------------------------------------------------------
# Rewriting the follow-up.

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
_CLAUSE_START = re.compile(rf"^(?:{_WH}|{_AUX}|i|you|we|he|she|it|they|there|let|tell)\b", re.I)
# "For what condition?", "When?", "How long?": a wh-phrase with no verb of its own (no
# auxiliary, no pronoun, no past tense), to be completed from the previous question.
_FRAGMENT = re.compile(
    rf"^\s*(?P<f>(?:(?:for|in|with|from|since|by|to|at|until|on)\s+)?{_WH}"
    r"(?:\s+(?!(?:" + _AUX[3:-1] + r"|he|she|her|him|his|it|its|they|them|their|i|you|we)\b)"
    r"(?![\w-]+ed\b)[\w-]+){0,2}|why not|how so|since when)"
    r"\s*[?.!]*\s*$",
    re.I,
)
_YES_NO = re.compile(rf"^{_AUX}\b", re.I)
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
        return word in _MASCULINE
    if gender == "f":
        return word in _FEMININE
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
    vowel = bool(re.match(r"(?i)[aeio]|u(?!s)|MDMA|LSD|SSRI|FDA|honest|hour", following))
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


def _swap_in(previous: str, new: str, subject: Subject, names: NameIndex) -> str | None:
    """The previous question with its parallel element replaced by ``new`` (ellipsis)."""
    new_names = names.find(new)
    old_names = names.find(previous)
    if len(new_names) == 1 and re.sub(r"[\s.]+", " ", new).strip().lower() in {
        a.lower() for a in new_names[0].aliases
    }:
        new = new_names[0].name  # "what about Hendricks?" -> Peter Hendricks
    if new_names and old_names:
        return _replace_phrase(previous, _mention(previous, old_names[0]), new)
    new_substance = _SUBSTANCE.search(new)
    old_substance = _SUBSTANCE.search(previous)
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
        if not _is_person(cited):
            continue
        for alias in cited.aliases:
            body = r"\s+".join(re.escape(w) for w in alias.split())
            match = re.search(rf"(?<!\w){body}(?!\w)", text, re.I)
            if match:
                starts.append(match.start())
    return min(starts) if starts else None


def _anchored(question: str, names: NameIndex) -> bool:
    """The question names its own subject: a cited person or work, or a substance."""
    return bool(names.find(question) or _SUBSTANCE.search(question))


def _content_words(text: str) -> set[str]:
    from assistant.terms import content_terms

    return content_terms(text) - {t for w in _GENERIC for t in content_terms(w)}


def condense_followup(
    question: str,
    history: Sequence[Turn],
    names: NameIndex,
    *,
    passages: Mapping[str, Passage] | None = None,
    window: int = 4,
) -> str:
    """A standalone version of ``question``, from the last ``window`` turns of ``history``:
    pronouns ("he", "her pain", "that study", "it") resolved to the person or topic last
    discussed, ellipsis ("and psilocybin?", "what about Hendricks?", "for what condition?")
    completed from the previous question, and topic carried over to a follow-up that needs
    it. Self-contained questions come back unchanged. ``passages`` (the article) lets "he"
    and "she" tell people apart."""
    if not history or small_talk(question) is not None:
        return question
    subject = find_subject(history, names, window)
    if subject is None:
        return question

    ellipsis = _ELLIPSIS.match(question)
    if ellipsis and not _CLAUSE_START.match(ellipsis.group("t")):
        swapped = _swap_in(subject.question, ellipsis.group("t"), subject, names)
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
        genders = dict(_article_genders(passages, names))
        if subject.source_text:
            genders = {**infer_genders([subject.source_text], names), **genders}
        text, person = _resolve_people(text, subject, genders)
        text, group = _resolve_group(text, subject)
        changed = person or group
    # "Is it safe to mix MDMA with alcohol?": a question naming its own substance keeps "it".
    text, thing = _resolve_things(text, subject, pronouns=not _SUBSTANCE.search(body))
    changed = changed or thing
    text, of = _resolve_of(text, subject)
    changed = changed or of
    if changed:
        return _finish(text)

    if _anchored(body, names):
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


# ---------------------------------------------------------------------------------------------


class ConversationStore:
    """Bounded histories keyed by conversation id, safe to share between threads: each keeps
    its last ``max_turns`` turns; the least recently used conversations beyond
    ``max_conversations`` are forgotten."""

    def __init__(self, max_turns: int = 6, max_conversations: int = 1000) -> None:
        self._max_turns = max_turns
        self._max_conversations = max_conversations
        self._histories: OrderedDict[str, deque[Turn]] = OrderedDict()
        self._lock = Lock()

    def history(self, conversation: str) -> tuple[Turn, ...]:
        """The remembered turns of one conversation, oldest first."""
        with self._lock:
            return tuple(self._histories.get(conversation, ()))

    def add(self, conversation: str, turn: Turn) -> None:
        """Remember one more turn (dropping the oldest beyond the bound)."""
        with self._lock:
            turns = self._histories.setdefault(conversation, deque(maxlen=self._max_turns))
            turns.append(turn)
            self._histories.move_to_end(conversation)
            while len(self._histories) > self._max_conversations:
                self._histories.popitem(last=False)

    def clear(self, conversation: str) -> None:
        """Forget one conversation (a "new conversation" button)."""
        with self._lock:
            self._histories.pop(conversation, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._histories)


def bounded(history: Sequence[Turn], max_turns: int) -> tuple[Turn, ...]:
    """The last ``max_turns`` turns of a history (the page keeps its own in gr.State)."""
    return tuple(history[-max_turns:]) if max_turns > 0 else ()
