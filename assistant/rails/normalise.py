"""Input normalisation: the message people see (NFKC, controls removed, whitespace collapsed),
its checks (empty, undecodable, too long), and the detection form the rules read (folded case
and accents, look-alike letters, leetspeak, spelled-out letters and misspellings mapped)."""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from assistant.rails.data import load, pattern, words
from assistant.spelling import fuzzy_index, nearest

# A raw message this many times longer than the cap is rejected before normalising it, so a
# huge paste costs nothing (NFKC on megabytes would dominate the turn).
RAW_CAP_FACTOR = 4

# Invisible letters that survive NFKC and are not format characters (Hangul fillers, braille
# blank): used to make "empty" messages look non-empty.
_INVISIBLE = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"}
_WS_RE = re.compile(r"\s+")


def _invalid(key: str) -> str:
    return load("replies")["invalid"][key]


class InvalidInput(ValueError):
    """The message cannot be read as text (undecodable bytes)."""


@dataclass(frozen=True)
class InputCheck:
    """The outcome of checking one message: ``ok``, or why the turn ends here."""

    status: Literal["ok", "invalid", "refused"]
    text: str  # the normalised message, for display and retrieval
    message: str = ""  # invalid: the one-line reason; refused: the refusal text
    reason: str | None = None  # refused: the rail that refused (dosing, crisis, ...)


def normalise(message: str | bytes) -> str:
    """NFKC, control/format characters removed, whitespace collapsed; raise InvalidInput on bad bytes."""
    if isinstance(message, (bytes, bytearray, memoryview)):
        try:
            message = bytes(message).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(_invalid("undecodable")) from exc
    if not isinstance(message, str):
        raise InvalidInput(_invalid("type"))
    text = unicodedata.normalize("NFKC", message)
    out = []
    for ch in text:
        if ch.isspace():
            out.append(" ")
            continue
        # Cc control, Cf format (zero-width, bidi overrides, BOM), Cs lone surrogates.
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs") or ch in _INVISIBLE:
            continue
        out.append(ch)
    return _WS_RE.sub(" ", "".join(out)).strip()


def check_message(message: str | bytes, max_chars: int) -> InputCheck:
    """Validate one message; never raises. ``invalid`` carries a one-line message saying what to do."""
    too_long = _invalid("too_long").format(max_chars=max_chars)
    try:
        sized = isinstance(message, (str, bytes, bytearray, memoryview))
        if sized and len(message) > RAW_CAP_FACTOR * max_chars + 64:
            return InputCheck("invalid", "", too_long)
        text = normalise(message)
    except InvalidInput as exc:
        return InputCheck("invalid", "", str(exc))
    except Exception:  # noqa: BLE001 - bad input must never produce a traceback
        return InputCheck("invalid", "", _invalid("type"))
    if not text:
        return InputCheck("invalid", "", _invalid("empty"))
    if len(text) > max_chars:
        return InputCheck("invalid", text[:max_chars], too_long)
    return InputCheck("ok", text)


# ---------------------------------------------------------------------------------------------
# Detection form: what the rules look at (the user's text is kept as is for display)

# A token that mixes letters with leet characters; "!", "|" and "+" only inside a word.
_TOKEN_RE = re.compile(r"[\w@$€]+(?:[!|+]+[\w@$€]+)*")
# Digits then letters ("125mg", "70kg", "3rd", "1970s") is a real number with a unit: keep it.
_NUM_UNIT_TOKEN = re.compile(r"\d+(?:[.,]\d+)*[a-z]+")
# "1oo" (letter o for zero) is a number.
_O_FOR_ZERO = re.compile(r"\d[\do]*o[\do]*")
# Letters spelled out one by one: "d o s e", "d.o.s.e", "m-d-m-a".
_SPELLED_RE = re.compile(r"(?<![a-z])[a-z](?:[ .\-_*][a-z](?![a-z])){2,}")


@functools.cache
def _lexicon() -> dict:
    data = load("lexicon")
    fuzzy = data["fuzzy"]
    return {
        "confusables": str.maketrans(data["confusables"]),
        "leet": str.maketrans(data["leet"]),
        "misspellings": data["misspellings"],
        "targets": tuple(fuzzy["targets"].split()),
        "keep": words(fuzzy["keep"]),
        "psilocybin": pattern(fuzzy["psilocybin"]),
        "index": fuzzy_index(tuple(fuzzy["targets"].split())),
        "rail_words": frozenset(fuzzy["rail_words"].split()),
        "rail_index": fuzzy_index(tuple(fuzzy["rail_words"].split())),
        "not_a_word": fuzzy["not_a_word"],
    }


@functools.lru_cache(maxsize=8192)
def _correct_token(token: str) -> str:
    """Map a leetspeak / misspelled token to the word the rules know."""
    lex = _lexicon()
    if token in lex["misspellings"]:
        return lex["misspellings"][token]
    if not token.isalpha():
        return token
    if len(token) >= 6 and token not in lex["keep"] and token not in lex["targets"]:
        if lex["psilocybin"].fullmatch(token):
            return "psilocybin"
        corrected = nearest(token, lex["index"], 1 if len(token) < 8 else 2)
        if corrected != token:
            return corrected
    return _rail_word(token)


def _rail_word(token: str) -> str:
    """A token that is no English word, one edit from a rails' key word (two from a long one),
    read as that word; a three-letter token only when a letter is missing ("kil")."""
    lex = _lexicon()
    if len(token) < 3 or token in lex["rail_words"]:
        return token
    from wordfreq import zipf_frequency

    if zipf_frequency(token, "en") >= lex["not_a_word"]:
        return token
    found = nearest(token, lex["rail_index"], 1 if len(token) < 8 else 2)
    if len(token) == 3 and len(found) != 4:
        return token
    return found


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold().translate(_lexicon()["confusables"])
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _unleet(match: re.Match[str]) -> str:
    token = match.group(0)
    if _NUM_UNIT_TOKEN.fullmatch(token) or token.isdigit():
        return token
    if _O_FOR_ZERO.fullmatch(token):
        return token.replace("o", "0")
    if any(c.isalpha() for c in token) and any(not c.isalpha() for c in token):
        token = token.translate(_lexicon()["leet"])
    return _correct_token(token)


@functools.lru_cache(maxsize=1024)
def detection_form(text: str) -> str:
    """Lowercase, accents folded, look-alikes, leetspeak and common misspellings mapped (for rules only)."""
    s = _fold(text)
    s = re.sub(r"[\x00-\x1f\x7f]", " ", s)
    s = _SPELLED_RE.sub(lambda m: re.sub(r"[ .\-_*]", "", m.group(0)) + " ", s)
    s = re.sub(r"\bmicro[\s\-_]+dos", "microdos", s)
    s = _TOKEN_RE.sub(_unleet, s)
    return _WS_RE.sub(" ", s).strip()
