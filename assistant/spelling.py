"""Reading misspelt words as the words a component knows (SymSpell-style lookup with OSA
distance, rapidfuzz): the rails read "myslef" as "myself", the router "auther" as "author".
Only a token that is no English word (wordfreq) is read again; an English word never changes."""

from __future__ import annotations

import re
from collections.abc import Iterable

NOT_A_WORD = 2.5  # wordfreq Zipf frequency below which a token is no English word
MAX_LETTERS = 24  # a longer token is no misspelling (and its deletions would cost seconds)
_TOKEN = re.compile(r"[A-Za-z]+")


def deletes(word: str, depth: int) -> set[str]:
    """The word with up to ``depth`` characters deleted (itself included)."""
    out = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        out |= frontier
    return out


def fuzzy_index(targets: Iterable[str]) -> dict[str, set[str]]:
    """Every target's strings with up to two characters deleted, to the targets."""
    index: dict[str, set[str]] = {}
    for target in targets:
        for d in deletes(target, 2):
            index.setdefault(d, set()).add(target)
    return index


def nearest(token: str, index: dict[str, set[str]], max_dist: int) -> str:
    """The target nearest the token within ``max_dist`` edits (OSA: Damerau-Levenshtein with
    adjacent transpositions), else the token."""
    from rapidfuzz.distance import OSA

    if len(token) > MAX_LETTERS:
        return token
    candidates: set[str] = set()
    for d in deletes(token, max_dist):
        candidates |= index.get(d, set())
    best, best_dist = token, max_dist + 1
    for target in sorted(candidates):
        dist = OSA.distance(token, target)
        if dist < best_dist:
            best, best_dist = target, dist
    return best


def is_word(token: str) -> bool:
    from wordfreq import zipf_frequency

    return zipf_frequency(token, "en") >= NOT_A_WORD


class Speller:
    """Reads each token of a text that is no English word as the nearest word of a
    vocabulary, one edit away (two for a word of eight letters or more); a ``known`` word (a
    name, a term of the documents) stays as it is."""

    def __init__(self, vocabulary: Iterable[str], known: Iterable[str] = ()) -> None:
        self.vocabulary = frozenset(w.lower() for w in vocabulary)
        self.known = frozenset(w.lower() for w in known) | self.vocabulary
        self.index = fuzzy_index(self.vocabulary)

    def word(self, token: str) -> str:
        lowered = token.lower()
        if len(lowered) < 4 or lowered in self.known or is_word(lowered):
            return token
        return nearest(lowered, self.index, 1 if len(lowered) < 8 else 2)

    def correct(self, text: str) -> str:
        return _TOKEN.sub(lambda m: self.word(m.group(0)), text)
