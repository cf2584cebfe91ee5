"""Who is "he" and who is "she": read off the documents' own pronouns, so a follow-up's
pronoun resolves to a person of the right gender."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from threading import Lock

from assistant.names import NameIndex
from assistant.subject import is_person
from assistant.types import Passage

_GENDERED = re.compile(r"\b(he|him|his|himself|she|her|hers|herself)\b", re.I)
FEMININE = {"she", "her", "hers", "herself"}
MASCULINE = {"he", "him", "his", "himself"}
# How far after a name its pronoun is looked for: "James Close, who works at the Centre for
# Psychedelic Research, ..., United Kingdom. In an article he co-authored" is 150 characters.
_GENDER_WINDOW = 200
_gender_cache: dict[int, tuple[object, dict[str, str]]] = {}
_gender_lock = Lock()


def infer_genders(texts: Iterable[str], names: NameIndex) -> dict[str, str]:
    """``{"James Close": "m", "Callie": "f", ...}`` from the first gendered pronoun after each
    mention (before the next named person, the paragraph end, or ``_GENDER_WINDOW``
    characters); a majority of mentions decides; ties and names with no pronoun stay unknown."""
    people = [c for c in names.names.values() if is_person(c)]
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
                votes[name][0 if word in MASCULINE else 1] += 1
    genders = {}
    for name, (masculine, feminine) in votes.items():
        if masculine != feminine:
            genders[name] = "m" if masculine > feminine else "f"
    return genders


def document_genders(passages: Mapping[str, Passage] | None, names: NameIndex) -> dict[str, str]:
    """The genders of the corpus's people, read once per set of passages."""
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
