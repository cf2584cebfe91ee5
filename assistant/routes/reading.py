"""How the router reads a message: misspellings read as the examples' words, the documents'
own subject left out, and the words and word pairs it weighs (TF-IDF, as scikit-learn's
``TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)`` computes it, in NumPy)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from assistant.spelling import is_word

_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token pattern


def spelling_words(rows: Sequence[dict]) -> list[str]:
    """The examples' own English words of four letters or more: what a misspelling is read as
    (kept in the fitted model, so a reply never reads the examples)."""
    tokens = {w.lower() for r in rows for w in re.findall(r"[A-Za-z]+", r["text"])}
    return sorted(w for w in tokens if len(w) >= 4 and is_word(w))


class Unsubject:
    """Leaves out of a message that points at the document itself ("this piece", "its take",
    "the article", "the psychedelic therapy article": ``pointing_words`` and ``document_nouns``
    in ``routes.toml``) the words of the documents' titles (by stem), and a short word left
    between two of them ("psychedelics for pain"). A message about another work ("the Nature
    article on chronic pain") keeps them."""

    def __init__(self, titles: Iterable[str]) -> None:
        from assistant.routes.registry import DOCUMENT_DATA
        from assistant.terms import lexicon

        self.stemmer, self.stopwords = lexicon()
        self.pointing = set(DOCUMENT_DATA["pointing_words"])
        self.nouns = set(DOCUMENT_DATA["document_nouns"])
        self.stems = {
            self.stemmer.stemWord(w.lower())
            for title in titles
            for w in re.findall(r"[A-Za-z]+", title)
            if w.lower() not in self.stopwords
        }

    def __call__(self, message: str) -> str:
        """The message without its subject words (itself when nothing else is left)."""
        if not self.stems:
            return message
        tokens = re.findall(r"[A-Za-z]+|[^A-Za-z\s]+", message)
        subject = [t.isalpha() and self.stemmer.stemWord(t.lower()) in self.stems for t in tokens]
        if not self.points_at_document(tokens, subject):
            return message
        keep = []
        for i, token in enumerate(tokens):
            between = (
                token.lower() in self.stopwords
                and any(subject[:i][-2:])
                and any(subject[i + 1 : i + 3])
            )
            if (
                not subject[i]
                and not between
                and not (token == "-" and any(subject[i - 1 : i + 2]))
            ):
                keep.append(token)
        left = re.sub(r"\s+([?.!,;:])", r"\1", " ".join(keep))
        return left if re.search(r"[A-Za-z]{3}", left) else message

    def points_at_document(self, tokens: list[str], subject: list[bool]) -> bool:
        """ "this", "its", ... or "the" before a document noun with only the document's own
        subject words (or hyphens) between."""
        lowered = [t.lower() for t in tokens]
        if self.pointing & set(lowered):
            return True
        for i, token in enumerate(lowered):
            if token != "the":
                continue
            j = i + 1
            while j < len(tokens) and (subject[j] or tokens[j] == "-"):
                j += 1
            if j < len(tokens) and lowered[j].rstrip("s") in self.nouns:
                return True
        return False


class WordFeatures:
    """The TF-IDF vector of a text's words and word pairs over a fitted vocabulary: sublinear
    term frequency, smoothed IDF, L2-normalised (scikit-learn's definition)."""

    def __init__(self, vocabulary: Sequence[str], idf: Sequence[float]) -> None:
        self.columns = {term: i for i, term in enumerate(vocabulary)}
        self.idf = np.asarray(idf, dtype=np.float32)

    @staticmethod
    def terms(text: str) -> list[str]:
        words = _TOKEN.findall(text.lower())
        return words + [f"{a} {b}" for a, b in zip(words, words[1:])]

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), len(self.idf)), dtype=np.float32)
        for row, text in enumerate(texts):
            for term, count in Counter(self.terms(text)).items():
                column = self.columns.get(term)
                if column is not None:
                    out[row, column] = (1.0 + math.log(count)) * self.idf[column]
            norm = float(np.linalg.norm(out[row]))
            if norm:
                out[row] /= norm
        return out
