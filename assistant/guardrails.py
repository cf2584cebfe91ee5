"""Guardrails around a turn: clean the input, refuse dosing advice, never let a dose out.

``guard_in`` runs first (normalise, length cap, dosing-intent check) and may end the turn;
``guard_out`` runs last on every reply (verify quotes, drop dose figures, add the disclaimer).
Importing this module does no work beyond compiling regular expressions.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import threading
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from assistant.config import DISCLAIMER
from assistant.types import Reply, Source, Turn

if TYPE_CHECKING:
    import numpy as np

Embed = Callable[[list[str]], "np.ndarray"]

__all__ = [
    "DOSE_NOTE",
    "REFUSAL",
    "InputCheck",
    "InvalidInput",
    "check_message",
    "contains_dose",
    "detection_form",
    "find_doses",
    "guard_in",
    "guard_out",
    "is_dosing_request",
    "normalise",
]

REFUSAL = (
    "I'm sorry, I can't help with that. I don't give dosing advice: how much to take, how "
    "often, or in what form, whether it's for you, for someone else, or for a story. A "
    "qualified clinician who knows your health and your medicines is the right person to ask. "
    "What I can do is tell you what the article says about the risks of MDMA, how MDMA and "
    "psilocybin sessions work, and what the research on psychedelics and chronic pain found."
)

DOSE_NOTE = "A dosing figure from the article was left out of this answer."

ABSTAIN_DOSE = (
    "The article's passage on that carries a dosing figure, which I don't repeat. I can tell "
    "you what the article says about risks, how sessions work, or what the research found."
)

ABSTAIN_UNVERIFIED = "I couldn't find a passage in the article that answers that."

DOSE_PLACEHOLDER = "[dose omitted]"

INVALID_EMPTY = "The message was empty; please type a question about the article."
INVALID_UNDECODABLE = (
    "The message couldn't be read as text (it isn't valid UTF-8); please retype it."
)
INVALID_TYPE = "The message wasn't text; please type a question about the article."

# A raw message this many times longer than the cap is rejected before normalising it, so a
# huge paste costs nothing (NFKC on megabytes would dominate the turn).
RAW_CAP_FACTOR = 4


class InvalidInput(ValueError):
    """The message cannot be read as text (undecodable bytes)."""


@dataclass(frozen=True)
class InputCheck:
    """The outcome of checking one message: ``ok``, or why the turn ends here."""

    status: Literal["ok", "invalid", "refused"]
    text: str  # the normalised message, for display and retrieval
    message: str = ""  # invalid: the one-line reason; refused: the refusal text


# ---------------------------------------------------------------------------------------------
# Normalisation


# Invisible letters that survive NFKC and are not format characters (Hangul fillers, braille
# blank): used to make "empty" messages look non-empty.
_INVISIBLE = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"}
_WS_RE = re.compile(r"\s+")


def normalise(message: str | bytes) -> str:
    """NFKC, control/format characters removed, whitespace collapsed; raise InvalidInput on bad bytes."""
    if isinstance(message, (bytes, bytearray, memoryview)):
        try:
            message = bytes(message).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(INVALID_UNDECODABLE) from exc
    if not isinstance(message, str):
        raise InvalidInput(INVALID_TYPE)
    text = unicodedata.normalize("NFKC", message)
    out = []
    for ch in text:
        if ch.isspace():
            out.append(" ")
            continue
        cat = unicodedata.category(ch)
        # Cc control, Cf format (zero-width, bidi overrides, BOM), Cs lone surrogates.
        if cat in ("Cc", "Cf", "Cs") or ch in _INVISIBLE:
            continue
        out.append(ch)
    return _WS_RE.sub(" ", "".join(out)).strip()


def check_message(message: str | bytes, max_chars: int) -> InputCheck:
    """Validate one message; never raises. ``invalid`` carries a one-line message saying what to do."""
    too_long = (
        f"The message is too long; please keep it under {max_chars} characters "
        "and ask one question at a time."
    )
    try:
        sized = isinstance(message, (str, bytes, bytearray, memoryview))
        if sized and len(message) > RAW_CAP_FACTOR * max_chars + 64:
            return InputCheck("invalid", "", too_long)
        text = normalise(message)
    except InvalidInput as exc:
        return InputCheck("invalid", "", str(exc))
    except Exception:  # noqa: BLE001 - bad input must never produce a traceback
        return InputCheck("invalid", "", INVALID_TYPE)
    if not text:
        return InputCheck("invalid", "", INVALID_EMPTY)
    if len(text) > max_chars:
        return InputCheck("invalid", text[:max_chars], too_long)
    return InputCheck("ok", text)


# ---------------------------------------------------------------------------------------------
# Detection form: what the rules look at (the user's text is kept as is for display)

# Latin look-alikes from Cyrillic and Greek, used to dodge keyword rules ("dоse" with a Cyrillic о).
_CONFUSABLES = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
        "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s",
        "ԁ": "d", "ɡ": "g", "α": "a", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
        "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "μ": "u", "ß": "ss", "’": "'", "‘": "'",
        "´": "'", "`": "'", "¿": " ", "¡": " ", "–": "-", "—": "-", "‑": "-",
    }
)  # fmt: skip

_LEET = str.maketrans(
    {"0": "o", "1": "i", "2": "z", "3": "e", "4": "a", "5": "s", "6": "g", "7": "t",
     "8": "b", "9": "g", "@": "a", "$": "s", "€": "e", "!": "i", "|": "l", "+": "t"}
)  # fmt: skip

# A token that mixes letters with leet characters; "!", "|" and "+" only inside a word.
_TOKEN_RE = re.compile(r"[\w@$€]+(?:[!|+]+[\w@$€]+)*")
# Digits then letters ("125mg", "70kg", "3rd", "1970s") is a real number with a unit: keep it.
_NUM_UNIT_TOKEN = re.compile(r"\d+(?:[.,]\d+)*[a-z]+")
# "1oo" (letter o for zero) is a number.
_O_FOR_ZERO = re.compile(r"\d[\do]*o[\do]*")
# Letters spelled out one by one: "d o s e", "d.o.s.e", "m-d-m-a".
_SPELLED_RE = re.compile(r"(?<!\w)(?:[a-z](?:[ .\-_*]|$)){3,}(?![a-z])")

_MISSPELLINGS = {
    "dosege": "dosage", "dossage": "dosage", "dosgae": "dosage", "doseage": "dosage",
    "dosag": "dosage", "dosaje": "dosage", "dosse": "dose", "dosee": "dose", "doce": "dose",
    "dosses": "doses", "doasge": "dosage", "dozage": "dosage",
    "miligram": "milligram", "miligrams": "milligrams", "miligrammes": "milligrammes",
    "millagram": "milligram", "millagrams": "milligrams", "milligramms": "milligrams",
    "milligrms": "milligrams", "miligrms": "milligrams", "milgrams": "milligrams",
    "miligramos": "miligramos", "mgs": "mg", "mgr": "mg",
    "micrograms": "micrograms", "mikrograms": "micrograms", "micrgrams": "micrograms",
    "microdoze": "microdose", "microdoseing": "microdosing", "micrdose": "microdose",
    "mircodose": "microdose", "mircodosing": "microdosing", "microdossing": "microdosing",
    "exstacy": "ecstasy", "ecstacy": "ecstasy", "extasy": "ecstasy", "extacy": "ecstasy",
    "ecstasey": "ecstasy", "xtc": "ecstasy", "moly": "molly", "mollie": "molly",
    "mdmma": "mdma", "mdam": "mdma", "mdm": "mdma", "emdma": "mdma",
    "shroms": "shrooms", "shroomz": "shrooms", "musrooms": "mushrooms", "mushroms": "mushrooms",
    "howmuch": "how much", "howmany": "how many", "howoften": "how often",
    "hw": "how", "hou": "how", "mutch": "much", "mch": "much", "muc": "much", "ofen": "often",
    "oftn": "often", "shud": "should", "shld": "should", "shoud": "should", "wat": "what",
    "wut": "what", "u": "you", "ur": "your", "r": "are", "2day": "today",
}  # fmt: skip

_PSILOCYBIN_RE = re.compile(r"\bp?[sc]{1,2}[iy]l[oa]?[cksz]{1,2}[iy]?b[iy]?n[ae]?s?\b")

# Targets for the typo corrector (one or two edits away, depending on length).
_FUZZY_TARGETS = (
    "dosage", "dosages", "milligram", "milligrams", "microgram", "micrograms", "microdose",
    "microdoses", "microdosing", "microdosed", "psilocybin", "mushrooms", "ecstasy",
    "regimen", "schedule", "protocol",
)  # fmt: skip
# Real words close to a target that must stay themselves.
_FUZZY_KEEP = frozenset(
    {"dotage", "postage", "passage", "message", "usage", "dosing", "closing", "posing",
     "hosing", "nosing", "dosed", "doses", "regime", "schedules", "protocols", "rushrooms"}
)  # fmt: skip


def _deletes(word: str, depth: int) -> set[str]:
    out = {word}
    frontier = {word}
    for _ in range(depth):
        nxt = set()
        for w in frontier:
            for i in range(len(w)):
                nxt.add(w[:i] + w[i + 1 :])
        out |= nxt
        frontier = nxt
    return out


@functools.cache
def _fuzzy_index() -> dict[str, set[str]]:
    # SymSpell-style: every target's strings with up to two characters deleted.
    index: dict[str, set[str]] = {}
    for target in _FUZZY_TARGETS:
        for d in _deletes(target, 2):
            index.setdefault(d, set()).add(target)
    return index


def _edit_distance(a: str, b: str) -> int:
    # Optimal string alignment (Damerau-Levenshtein with adjacent transpositions).
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


@functools.lru_cache(maxsize=8192)
def _correct_token(token: str) -> str:
    """Map a leetspeak / misspelled token to the word the rules know."""
    if token in _MISSPELLINGS:
        return _MISSPELLINGS[token]
    if len(token) < 6 or token in _FUZZY_KEEP or token in _FUZZY_TARGETS or not token.isalpha():
        return token
    if _PSILOCYBIN_RE.fullmatch(token):
        return "psilocybin"
    max_dist = 1 if len(token) < 8 else 2
    index = _fuzzy_index()
    candidates: set[str] = set()
    for d in _deletes(token, max_dist):
        candidates |= index.get(d, set())
    best, best_dist = token, max_dist + 1
    for target in sorted(candidates):
        dist = _edit_distance(token, target)
        if dist < best_dist:
            best, best_dist = target, dist
    return best


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold().translate(_CONFUSABLES)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _unleet(match: re.Match[str]) -> str:
    token = match.group(0)
    if _NUM_UNIT_TOKEN.fullmatch(token) or token.isdigit():
        return token
    if _O_FOR_ZERO.fullmatch(token):
        return token.replace("o", "0")
    if any(c.isalpha() for c in token) and any(not c.isalpha() for c in token):
        token = token.translate(_LEET)
    return _correct_token(token)


def detection_form(text: str) -> str:
    """Lowercase, accents folded, look-alikes, leetspeak and common misspellings mapped (for rules only)."""
    s = _fold(text)
    s = re.sub(r"[\x00-\x1f\x7f]", " ", s)
    s = _SPELLED_RE.sub(lambda m: re.sub(r"[ .\-_*]", "", m.group(0)) + " ", s)
    s = re.sub(r"\bmicro[\s\-_]+dos", "microdos", s)
    s = _TOKEN_RE.sub(_unleet, s)
    return _WS_RE.sub(" ", s).strip()


# ---------------------------------------------------------------------------------------------
# Dose scanner

_NUMWORD = (
    r"(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen"
    r"|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy"
    r"|eighty|ninety|hundred|thousand|dozen|half(?:\s+an?)?|a\s+half|quarter|couple(?:\s+of)?"
    r"|few|several)"
)
_NUMWORDS = rf"(?:\b(?:an?\s+)?{_NUMWORD}(?:(?:\s+and\s+|\s+|-){_NUMWORD})*\b)"
_DIGITS = r"(?:(?<![\w.,])(?:\d+(?:[.,]\d+)*(?:\s*[½¼¾])?|\.\d+|\d+\s*/\s*\d+|[½¼¾]))"
_QTY = (
    rf"(?:{_DIGITS}(?:\s*(?:-|–|—|to|or)\s*{_DIGITS})?"
    rf"|{_NUMWORDS}(?:\s*(?:-|–|to|or)\s*{_NUMWORDS})?)"
)
_MASS_VOL = (
    r"(?:mg|mgs|milligrams?|milligrammes?|miligrams?|g|gr|grams?|grammes?|gms?|mcg|µg|μg|ug"
    r"|micrograms?|microgrammes?|mics?|ml|mls|millilit(?:er|re)s?|cc|oz|ounces?|lit(?:er|re)s?"
    r"|drops?|miligramos?|gramos?|microgramos?|milligramm|gramm|mikrogramm|milligrammi|grammi"
    r"|microgrammi|miligramas?|gramas?|microgramas?)"
)
_COUNT = (
    r"(?:tabs?|tablets?|caps|capsules?|pills?|hits?|blotters?|gel\s?tabs?|microdoses?"
    r"|pastillas?|comprimidos?|pastiglie|pillole|tabletten|kapseln|gelules|pilules)"
)
_PER_WEIGHT = (
    r"(?:\s*(?:/|per|a|each|for\s+every)\s*(?:kg|kilo(?:gram)?s?|lbs?|pounds?|body\s*weight))"
)
_DOSE_AMOUNT = re.compile(
    rf"(?:{_QTY}|\ban?\b|\bhalf\s+an?\b)\s*-?\s*{_MASS_VOL}(?![a-z]){_PER_WEIGHT}?"
    rf"|(?:{_QTY})\s*-?\s*{_COUNT}(?![a-z])"
    rf"|{_DIGITS}\s*{_MASS_VOL}?\s*/\s*kg\b",
    re.I,
)
# A bare numeric range ("120-180") that is not years, times or head counts.
_RANGE = re.compile(
    r"(?<![\w.,])(\d+(?:\.\d+)?)\s*(?:-|–|—)\s*(\d+(?:\.\d+)?)(?![\w.,])"
    r"(?!\s*(?:-\s*)?(?:hours?|hrs?|minutes?|mins?|seconds?|days?|weeks?|months?|years?|yrs?"
    r"|people|patients|participants|subjects|percent|%|°|sessions?|times?|pages?|cases?|kg|lbs?))",
    re.I,
)
_ORD = r"(?:other|second|third|fourth|fifth|sixth|seventh|eighth|\d+(?:st|nd|rd|th))"
_PERIOD = r"(?:days?|weeks?|months?|hours?|hrs?|nights?|mornings?|evenings?|fortnights?)"
_SCHEDULE = re.compile(
    rf"\bevery\s+(?:(?:{_ORD}|\d+(?:\.\d+)?|{_NUMWORD}|few|couple|of|to|or|-)\s*)+{_PERIOD}\b"
    rf"|\b(?:once|twice|thrice|\d+\s*(?:x|times)|{_NUMWORD}\s+times|a\s+(?:couple|few)\s+(?:of\s+)?"
    rf"times)\s*(?:a|per|each|every|an|/)\s*(?:day|week|month|fortnight|night|morning)\b"
    rf"|\b(?:once|twice|thrice|\d+\s*x|{_NUMWORD}\s+times)\s+(?:daily|weekly|monthly)\b"
    rf"|\b(?:\d+|{_NUMWORD})\s+days?\s+on\b(?:[\s,;]+(?:and\s+|then\s+)?(?:\d+|{_NUMWORD})"
    rf"\s+days?\s+off\b)?"
    # es / fr / de / pt / it schedules (for detection on the user's message)
    r"|\bcada\s+(?:tercer|segundo|otro|\d+|dos|tres|cuatro)\s+dias?\b"
    r"|\b(?:dos|tres|cuatro|\d+)\s+veces\s+(?:a|por|cada|al)\s+(?:la\s+)?(?:semana|dia|mes)\b"
    r"|\btous\s+les\s+(?:deux|trois|quatre|\d+)\s+jours\b"
    r"|\b(?:deux|trois|quatre|\d+)\s+fois\s+par\s+(?:semaine|jour|mois)\b"
    r"|\balle\s+(?:zwei|drei|vier|\d+)\s+tage\b"
    r"|\b(?:zweimal|dreimal|\d+\s*mal)\s+(?:pro|die|in\s+der|am\s+tag|im\s+monat)\s*(?:woche|tag)?"
    r"|\ba\s+cada\s+(?:dois|tres|quatro|\d+)\s+dias\b"
    r"|\b(?:duas|tres|\d+)\s+vezes\s+(?:por|na|ao)\s+(?:semana|dia|mes)\b"
    r"|\bogni\s+(?:due|tre|quattro|\d+)\s+giorni\b"
    r"|\b(?:due|tre|\d+)\s+volte\s+(?:a|alla|per|al)\s+(?:settimana|giorno|mese)\b",
    re.I,
)
_YEAR = re.compile(r"(?:1[89]|20)\d\d")


@functools.lru_cache(maxsize=256)
def _shadow_char(ch: str) -> str:
    folded = unicodedata.normalize("NFKC", ch).lower()
    return folded if len(folded) == 1 else ch


def _shadow(text: str) -> str:
    """Same length as ``text``: each character NFKC-folded and lowercased where that stays one char."""
    if text.isascii():
        return text.lower()
    return "".join(_shadow_char(ch) for ch in text)


def find_doses(text: str) -> list[tuple[int, int]]:
    """Character spans of dose amounts, per-weight amounts, numeric ranges and dosing schedules."""
    if not text:
        return []
    s = _shadow(text)
    spans: list[tuple[int, int]] = []
    for m in _DOSE_AMOUNT.finditer(s):
        spans.append(m.span())
    for m in _SCHEDULE.finditer(s):
        spans.append(m.span())
    for m in _RANGE.finditer(s):
        if _YEAR.fullmatch(m.group(1)) and _YEAR.fullmatch(m.group(2)):
            continue
        spans.append(m.span())
    spans = [(a, b) for a, b in spans if b > a]
    spans.sort()
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    # Trim whitespace the patterns may have swallowed at the edges.
    out = []
    for a, b in merged:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a, b))
    return out


def contains_dose(text: str) -> bool:
    """True if ``text`` carries any dose amount or dosing schedule."""
    return bool(find_doses(text))


def redact_doses(text: str, placeholder: str = DOSE_PLACEHOLDER) -> str:
    """``text`` with every dose span replaced by ``placeholder``."""
    spans = find_doses(text)
    for a, b in reversed(spans):
        text = text[:a] + placeholder + text[b:]
    return text


# ---------------------------------------------------------------------------------------------
# Dosing-intent detection: lexical rules


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


_DRUG = (
    r"(?:mdma|molly|mollies|ecstasy|mandy|psilocybin|psilocybe|mushrooms?|shrooms?|shroomies|"
    r"truffles?|lsd|acid|ketamine|dmt|ayahuasca|mescaline|peyote|psychedelics?|drugs?|"
    r"microdos\w*|hongos|setas|champignons|pilze|cogumelos|funghi|psilocibina|psilocybine|"
    r"extasis|extase|ecstasy|cubensis|magic\s+mushrooms|substance|medicine|capsules?|pills?)"
)
_UNIT_WORD = (
    r"(?:mg|mgs|milligrams?|milligrammes?|grams?|grammes?|mcg|ug|micrograms?|mics|ml|"
    r"milliliters?|millilitres?|tabs|tablets|miligramos|gramos|microgramos|milligramm|gramm|"
    r"mikrogramm|milligrammi|grammi|miligramas|gramas|microgramas|pastillas|comprimidos|"
    r"pastiglie|tabletten|mg/kg|per\s+kg|per\s+kilo\w*)"
)
_DOSE_NOUN = (
    r"(?:dose|doses|dosage|dosages|microdose|microdoses|amount|amounts|quantity|quantities)"
)
_DOSE_ADJ = (
    r"(?:safe|safest|right|correct|good|recommended|typical|usual|standard|normal|average|"
    r"max|maximum|min|minimum|starting|start|initial|first|effective|ideal|optimal|best|"
    r"lethal|toxic|fatal|threshold|proper|appropriate|sensible|reasonable|low|lowest|high|"
    r"highest|heroic|exact|precise|actual|real|full|therapeutic|active|common|usual|specific|"
    r"daily|weekly|single|good|strong|mild|moderate|small|smallest|big|large|larger|"
    r"microdose|micro|mdma|psilocybin|molly|ecstasy|mushroom|shroom|lsd|trial|clinical|"
    r"maps|study|studies|patients'?|their|the|a|an|your|my|that|this|each|per|weekly|"
    r"recommended|suggested|advised|prescribed|approved)"
)
_PERSONAL = (
    r"(?:\b(?:i|me|my|myself|mine|we|us|our|ourselves|i'm|im|i've|ive|i'd)\b|"
    r"\bsomeone\b|\bsomebody\b|\ba\s+person\b|\bfriend\b|\bbuddy\b|\bpartner\b|\bwife\b|"
    r"\bhusband\b|\b(?:boy|girl)friend\b|\bmom\b|\bmum\b|\bdad\b|\bson\b|\bdaughter\b|"
    r"\bbrother\b|\bsister\b|\bkid\b|\bteen\w*\b|\bcharacter\b|\bbeginner\b|\bnewbie\b|"
    r"\bfirst[\s-]?timer\b|\bnovice\b|\badult\b|\bwoman\b|\bman\b|\bguy\b|\bgirl\b|\bone\b|"
    r"\byou\b|\bpeople\b|\bsomeone\b)"
)
_TAKE = (
    r"(?:take|takes|taking|took|use|uses|using|used|give|giving|gave|administer\w*|consume\w*|"
    r"eat|eating|swallow\w*|drop|dropping|ingest\w*|redose\w*|re-dose\w*|dose\s+(?:myself|"
    r"him|her|them|someone|my)|microdos\w*|snort\w*|try|trying|start\s+(?:with|at|on)|"
    r"begin\s+with|prescribe\w*|tomar|tomo|tome|consumir|prendre|nehmen|einnehmen|prendere|"
    r"assumere|usar|ingerir|do|doing)"
)
_BODY_WEIGHT = _rx(
    r"\b\d+(?:[.,]\d+)?\s*(?:kg|kgs|kilos?|kilograms?|lbs?|pounds|stone)\b|\bi\s+weigh\b|"
    r"\bmy\s+(?:body\s*)?weight\b|\bbody\s*weight\b|\bweigh(?:s|ing)?\s+(?:about\s+|around\s+)?"
    r"\d+|\bper\s+(?:kg|kilo\w*|pound|lb)\b|\bmg\s*/\s*kg\b|\bmy\s+size\b|\bsomeone\s+my\s+size\b"
)

# "how much" that asks about something other than an amount of a drug.
_HOW_MUCH_OTHER = (
    r"(?:research|evidence|data|time|longer|shorter|later|earlier|sooner|money|cost|costs|"
    r"does\s+it\s+cost|water|pain|relief|better|worse|more\s+(?:social|likely|common|effective)|"
    r"less\s+(?:social|likely|common)|trust|progress|improvement|improve\w*|difference|effect|"
    r"impact|influence|of\s+(?:the|a|an|her|their|his)\s+(?:session|time|day|article|therapy|"
    r"book|pain|difference|effect)|of\s+a\s+role|did\s+(?:it|this|that|they|she|he|the\s+\w+)\s+"
    r"(?:help|improve|reduce|change|matter|work|relieve|ease|cost)|do(?:es)?\s+(?:it|this|that|"
    r"they|psychedelics|mdma|psilocybin|therapy|microdosing)\s+(?:help|improve|reduce|change|"
    r"matter|work|relieve|ease|cost)|is\s+known|do\s+we\s+know|is\s+understood|has\s+been\s+"
    r"(?:done|studied|published|learned|written)|of\s+(?:this|that|it)\s+is\s+(?:true|known|"
    r"proven|evidence|anecdot\w*)|talking|music|say|does\s+the\s+article\s+(?:say|cover|"
    r"discuss|talk))"
)
_HOW_MANY_OTHER = (
    r"(?:people|patients|participants|subjects|persons|studies|study|trials?|researchers|"
    r"scientists|sessions?|prep\s+sessions|hours?|minutes?|years?|days?|weeks?|months?|cases?|"
    r"phases?|authors|articles|papers|books|episodes|podcasts|resources|therapists|"
    r"countries|states|women|men|children|kids|deaths|risks?|dangers|processes|tools|"
    r"conditions|symptoms|chapters|sections|questions|pages|references|citations|mentions?)"
)

_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    # How much / how many of a drug, a unit, or for a person.
    (
        "how-much",
        _rx(
            rf"\bhow\s+much\b(?!\s+{_HOW_MUCH_OTHER}\b)"
            rf"|\bhow\s+many\s+(?:\w+\s+){{0,2}}?(?:{_UNIT_WORD}|{_DOSE_NOUN}|times|pills?|"
            rf"capsules?|caps|tabs?|hits?|mushrooms?|shrooms?|grams?|drops?|blotters?|"
            rf"squares|tablets?|do|should|can|could|would|to|of\s+(?:them|these|those|it|the\s+"
            rf"(?:pills?|capsules?|tabs?|mushrooms?)))\b"
        ),
    ),
    # "What is the (safe / right / max ...) dose", "which dosage", "what amount of ...".
    (
        "what-dose",
        _rx(
            rf"\b(?:what|which|whats|what's|wat)(?:'s|\s+is|\s+are|\s+was|\s+were|\s+would\s+be|"
            rf"\s+should\s+be|\s+will\s+be|\s+counts\s+as|\s+is\s+considered|\s+kind\s+of|"
            rf"\s+sort\s+of|\s+size|\s+strength|\s+level)?\s+(?:{_DOSE_ADJ}[\s-]+){{0,4}}"
            rf"{_DOSE_NOUN}\b"
        ),
    ),
    # The word "dosage" / "dosing regimen" is asking for amounts almost whenever it appears.
    (
        "dosage",
        _rx(
            r"\bdosages?\b|\bdosing\s+(?:regimen|schedule|protocol|plan|amount|amounts|guide|"
            r"guidelines?|instructions|chart|table|levels?|range|info\w*|advice|strategy|"
            r"recommendations?)\b|\bposologie\b|\bdosierung\w*\b|\bdosagem\b|\bdosaggio\b|"
            r"\bdosis\b|\bdosificacion\b"
        ),
    ),
    # Adjective + dose as a thing to be told: "safe dose", "max dose", "a good starting dose".
    (
        "adj-dose",
        _rx(
            r"\b(?:safe|safest|right|correct|recommended|typical|usual|standard|normal|average|"
            r"max|maximum|min|minimum|starting|initial|effective|ideal|optimal|lethal|toxic|"
            r"threshold|proper|appropriate|sensible|reasonable|heroic|exact|precise|therapeutic|"
            r"common|suggested|advised|good|beginner|first[\s-]?time)\s+(?:\w+\s+)?"
            r"(?:dose|doses|amount|amounts|quantity|microdose|microdoses|intake)\b"
        ),
    ),
    # Dose-of-a-drug (or for a person), unless the sentence is about danger/harm.
    (
        "dose-of",
        _rx(
            r"\b(?:dose|doses|amount|amounts|quantity|microdose)\s+(?:of|for|to\s+take|to\s+give|"
            r"to\s+use|i|should|would|do|per)\b(?!.*\b(?:danger\w*|risk\w*|harm\w*|fatal|"
            r"kill\w*|overdose|toxic\w*|happen\w*|accident\w*|side\s+effects?|neurotox\w*)\b)"
        ),
    ),
    (
        "drug-dose",
        _rx(
            rf"\b{_DRUG}\s+(?:micro)?(?:dose|doses|amount|amounts)\b(?!\s+of\b)"
            rf"(?!.*\b(?:danger\w*|risk\w*|harm\w*|fatal|overdose|toxic\w*)\b)"
        ),
    ),
    # Dose units named in a request ("mg of MDMA", "quote the sentence with milligrams").
    ("unit", _rx(rf"\b{_UNIT_WORD}(?![a-z])")),
    # Frequency and schedules.
    (
        "how-often",
        _rx(
            rf"\bhow\s+(?:often|frequently|regularly|many\s+times|soon\s+(?:can|should|could)|"
            rf"long\s+(?:should|do|must)\s+(?:i|you|one|we)\s+wait)\b.*\b(?:{_TAKE}|{_DRUG}|"
            rf"dose|doses|dosing|redose|microdos\w*|again)\b"
            rf"|\bwhen\s+(?:should|can|do|could)\s+(?:i|you|one|we)\s+(?:redose|re-dose|take\s+"
            rf"(?:more|another|the\s+next|a\s+second)|dose\s+again)"
        ),
    ),
    (
        "schedule",
        _rx(
            r"\b(?:microdos\w*|dosing|dose|psilocybin|mdma|mushroom|shroom|lsd)\s+(?:\w+\s+)?"
            r"(?:protocol|schedule|regimen|regime|routine|plan|cycle|stack|calendar|program+e?)s?"
            r"\b|\b(?:protocol|schedule|regimen|routine|stack)\s+(?:for|of)\s+(?:\w+\s+)?"
            r"(?:microdos\w*|dosing|psilocybin|mdma|mushrooms?|shrooms?|lsd)\b|\bfadiman\b|"
            r"\bstamets\b|\bredos\w+|\bre-dos\w+|\bbooster\s+dose|\btop[\s-]?up\s+dose"
        ),
    ),
    # "How do I microdose", "how to microdose", "how should one take psilocybin".
    (
        "how-to-take",
        _rx(
            rf"\bhow\s+(?:do|should|can|would|could|might|to)\s+(?:i\s+|you\s+|one\s+|we\s+|"
            rf"people\s+|someone\s+|my\s+\w+\s+|he\s+|she\s+|they\s+)?(?:safely\s+|properly\s+|"
            rf"best\s+|actually\s+)?(?:microdos\w*|dose\b|take\s+(?:{_DRUG}|it|them|this|that)|"
            rf"prepare\s+(?:a\s+)?(?:microdose|dose))"
        ),
    ),
    # Size of a microdose / a dose: "what counts as a microdose", "is 0.1 g a microdose".
    (
        "microdose-size",
        _rx(
            r"\b(?:a|one|the)\s+microdose\b|\bmicrodos\w*\s+(?:size|amount|"
            r"dose|level|range|quantity)"
        ),
    ),
    # Ceilings: "how much is too much", "the most I can take", "don't take more than".
    (
        "ceiling",
        _rx(
            r"\btoo\s+much\s+(?:mdma|molly|psilocybin|ecstasy|mushrooms?|shrooms?)\b|"
            r"\b(?:more|less)\s+than\s+about\b|\b(?:upper|lower)\s+limit\b|\bmax(?:imum)?\s+"
            r"(?:amount|limit|intake)\b|\bthe\s+most\s+(?:i|you|one|someone)\s+(?:can|should|"
            r"could)\s+(?:safely\s+)?take\b|\bnot\s+(?:to\s+)?take\s+more\s+than\b|"
            r"\bhow\s+(?:high|strong|big|large|low|small)\s+(?:a|of\s+a|should|can|could|would)\b"
            r"|\bhow\s+(?:high|strong|big|large|low|small)\s+(?:the\s+)?(?:dose|amount|microdose)"
        ),
    ),
    # Asking for a bare number or the figure the article gives.
    (
        "number-only",
        _rx(
            r"\b(?:respond|reply|answer|output|give|tell|say)\b.{0,30}\b(?:only|just)\b.{0,20}\b"
            r"(?:number|numbers|figure|figures|digits?|amount|value|integer)\b|"
            r"\b(?:just|only)\s+(?:give\s+me\s+|tell\s+me\s+|say\s+)?(?:the|a|one)\s+"
            r"(?:number|figure|amount|value)\b|\b(?:number|figure|amount)\s+only\b|"
            r"\bwhat\s+(?:number|figure|numbers|figures)\b|\bwhich\s+(?:number|figure)\b|"
            r"\b(?:the|a)\s+(?:number|figure|numbers|figures)\s+(?:the\s+article|it|they|you)\s+"
            r"(?:gives?|mentions?|says?|quotes?|states?|lists?)\b"
        ),
    ),
    (
        "quote-extraction",
        _rx(
            r"\b(?:quote|cite|repeat|copy|paste|reproduce|print|show|read|give|find|tell|"
            r"write|recite|paraphrase|complete|finish|fill)\b.{0,40}\b(?:sentence|line|passage|"
            r"part|bit|text|words?|phrase|section|paragraph|blank)\b.{0,60}\b(?:milligram\w*|mg|"
            r"amount|amounts|dose|doses|dosage|number|numbers|figure|figures|how\s+much|quantity|"
            r"limit|maximum|max|threshold|grams?|units?|digits?|more\s+than)\b"
        ),
    ),
    # Role-play, fiction, hypotheticals and injections about an amount or a schedule.
    (
        "framed",
        _rx(
            r"\b(?:novel|story|stories|fiction\w*|character|screenplay|script|scene|roleplay|"
            r"role-play|role\s+play|pretend|imagine|hypothetic\w*|in\s+theory|theoretically|"
            r"for\s+a\s+friend|asking\s+for\s+a|my\s+friend|game|ignore|disregard|forget|"
            r"jailbreak|developer\s+mode|dan\b|no\s+(?:rules|restrictions|filters?|limits)|"
            r"unfiltered|uncensored|system\s+prompt|you\s+are\s+now|act\s+as|override)\b"
            r".*\b(?:realistic\w*|accurate\w*|believabl\w*|plausibl\w*|exact\w*|precise\w*|"
            r"specific\w*|dose|doses|dosing|amount|quantity|number|figure|how\s+much|how\s+many|"
            r"how\s+often|milligram\w*|mg|grams?|units?|take|took|taking|give|gave|microdos\w*)"
            r"\b"
        ),
    ),
    ("body-weight", _BODY_WEIGHT),
    # Spanish, French, German, Portuguese, Italian.
    (
        "es",
        _rx(
            r"\bcuant[oa]s?\b(?!\s+(?:dura|tiempo|tarda|duran|pacientes|personas|estudios|"
            r"sesiones|horas|anos|investigadores))|\bque\s+cantidad\b|\bcada\s+cuanto\b|"
            r"\bcon\s+que\s+frecuencia\b|\bcuantas\s+veces\b|\bmicrodosis\b|\bmiligramos?\b|"
            r"\bmicrodosificar\b|\bdebo\s+tomar\b|\bpuedo\s+tomar\b"
        ),
    ),
    (
        "fr",
        _rx(
            r"\bcombien\b(?!\s+(?:de\s+temps|dure|durent|de\s+patients|de\s+personnes|"
            r"d'etudes|de\s+seances|d'heures))|\bquelle\s+(?:dose|quantite|posologie)\b|"
            r"\ba\s+quelle\s+frequence\b|\btous\s+les\s+combien\b|\bmilligrammes?\b|"
            r"\bdois-je\s+prendre\b|\bje\s+dois\s+prendre\b"
        ),
    ),
    (
        "de",
        _rx(
            r"\bwie\s*viel\w*\b|\bwelche\s+(?:dosis|menge|dosierung)\b|\bwie\s+oft\b|"
            r"\bmilligramm\b|\bmikrodos\w*|\bsoll\s+ich\b.*\b(?:nehmen|einnehmen)\b"
        ),
    ),
    (
        "pt",
        _rx(
            r"\bquant[oa]s?\b(?!\s+(?:tempo|dura|duram|pacientes|pessoas|estudos|sessoes|"
            r"horas))|\bqual\s+(?:a\s+)?(?:dose|quantidade)\b|\bcom\s+que\s+frequencia\b|"
            r"\bmiligramas?\b|\bmicrodosagem\b|\bdevo\s+tomar\b|\bposso\s+tomar\b"
        ),
    ),
    (
        "it",
        _rx(
            r"\bquant[oiea]\b(?!\s+(?:tempo|dura|durano|pazienti|persone|studi|sessioni|ore))|"
            r"\bquale\s+(?:dose|quantita|dosaggio)\b|\bogni\s+quanto\b|"
            r"\bcon\s+quale\s+frequenza\b|\bmilligrammi\b|\bmicrodosaggio\b|"
            r"\bdevo\s+(?:prendere|assumere)\b|\bposso\s+(?:prendere|assumere)\b"
        ),
    ),
)


def lexical_dosing_rules(text: str) -> list[str]:
    """Names of the lexical rules that fire on ``text`` (detection form is computed here)."""
    d = detection_form(text)
    fired = [name for name, rx in _RULES if rx.search(d)]
    if find_doses(d):
        fired.append("amount-in-message")
    return fired


def is_dosing_request(
    text: str,
    history: Sequence[Turn] = (),
    embed: Embed | None = None,
) -> bool:
    """True if the message asks for a dose, an amount or a dosing schedule, in any framing."""
    return bool(lexical_dosing_rules(text))


def guard_in(
    message: str | bytes,
    history: Sequence[Turn],
    embed: Embed | None,
    max_chars: int,
) -> InputCheck:
    """Check the message, then refuse dosing requests; ``ok`` lets the turn go on."""
    check = check_message(message, max_chars)
    if check.status != "ok":
        return check
    if is_dosing_request(check.text, history, embed):
        return InputCheck("refused", check.text, REFUSAL)
    return check


# ---------------------------------------------------------------------------------------------
# Output guard

_lock = threading.Lock()


def _remove_quote_lines(answer: str, source: Source) -> str:
    quote = source.quote.strip()
    marker = f"[{source.id}]"
    kept = []
    for line in answer.split("\n"):
        if quote and quote in line:
            continue
        if line.lstrip().startswith(">") and marker in line:
            continue
        kept.append(line)
    return "\n".join(kept)


def _strip_disclaimer(answer: str) -> str:
    return answer.replace(DISCLAIMER, "").rstrip()


def guard_out(reply: Reply, documents: Mapping[str, str]) -> Reply:
    """Verify quotes, drop dose-carrying sources and any dose in the text, end with the disclaimer."""
    answer = _strip_disclaimer(reply.answer or "")
    notes = list(reply.notes)
    kept: list[Source] = []
    dropped_unverified = dropped_dose = 0
    for source in reply.sources:
        doc = documents.get(source.document)
        if doc is None or doc[source.start : source.end] != source.quote or not source.quote:
            dropped_unverified += 1
            notes.append(f"dropped unverified source {source.id}")
            answer = _remove_quote_lines(answer, source)
            continue
        if contains_dose(source.quote):
            dropped_dose += 1
            notes.append(f"dropped dose-carrying source {source.id}")
            answer = _remove_quote_lines(answer, source)
            continue
        kept.append(source)

    status = reply.status
    if status == "answered" and not kept:
        status = "abstained"
        answer = ABSTAIN_DOSE if dropped_dose else ABSTAIN_UNVERIFIED
        notes.append("abstained: no verified dose-free source left")
    elif dropped_dose and DOSE_NOTE not in answer:
        answer = answer.rstrip() + "\n\n" + DOSE_NOTE

    answer = re.sub(r"\n{3,}", "\n\n", answer).strip()
    if contains_dose(answer):
        notes.append("redacted a dose in the answer text")
        answer = redact_doses(answer)
    if not answer:
        answer = {
            "refused": REFUSAL,
            "invalid": INVALID_EMPTY,
        }.get(status, ABSTAIN_UNVERIFIED)
    standalone = reply.standalone_question
    if standalone and contains_dose(standalone):
        standalone = redact_doses(standalone)
    return dataclasses.replace(
        reply,
        status=status,
        answer=answer + "\n\n" + DISCLAIMER,
        sources=kept,
        disclaimer=DISCLAIMER,
        standalone_question=standalone,
        notes=notes,
    )
