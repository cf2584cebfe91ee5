"""Words of questions and sentences as the answer stage compares them: stemmed (PyStemmer),
stopwords dropped (bm25s's list plus question words), dotted acronyms joined ("Ph.D." is "phd")."""

from __future__ import annotations

import re
from functools import cache, lru_cache

WORD = re.compile(r"\w\w+")
QUESTION_WORD = re.compile(r"[^\W_][\w'’]*")
_DOTTED = re.compile(r"\b(?:[A-Za-z]{1,2}\.){2,}")
_EXTRA_STOPWORDS = {
    *("why", "what", "how", "when", "where", "which", "who", "whom", "whose"),
    *("does", "did", "do", "can", "could", "would", "should"),
    *("isn", "doesn", "don", "didn", "couldn", "wasn", "aren"),
    *("article", "author", "tell", "say"),
}


@cache
def lexicon():
    """The English stemmer and the stopword set."""
    import Stemmer
    from bm25s.stopwords import STOPWORDS_EN

    return Stemmer.Stemmer("english"), frozenset(STOPWORDS_EN) | _EXTRA_STOPWORDS


def stem(word: str) -> str:
    return lexicon()[0].stemWord(word.lower())


@lru_cache(maxsize=8192)
def content_terms(text: str) -> frozenset[str]:
    """Stemmed content words of a text (stopwords dropped; "Ph.D." is "phd"). Cached: a turn
    asks for the question's, the cited names' and the chosen quotes' terms several times."""
    stemmer, stopwords = lexicon()
    text = _DOTTED.sub(lambda m: m.group(0).replace(".", "") + " ", text)
    words = [w for w in WORD.findall(text.lower()) if w not in stopwords]
    return frozenset(stemmer.stemWords(words))
