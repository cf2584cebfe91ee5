"""The answer stage: pick the document sentences that answer the question and quote them
verbatim, in document order, each cited; or abstain when nothing in the corpus answers (the
wording of an abstention is the corpus profile's)."""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Sequence

import numpy as np

from assistant.answer_checks import ANSWER_TYPES, ASKS_COUNT, Quotes, missing_answer
from assistant.patterns import load_toml, pattern
from assistant.terms import QUESTION_WORD, content_terms, lexicon, stem
from assistant.types import Passage, Sentence, Source

# What makes a sentence the answer: these features of each (sentence, question) pair. The
# answerers (``assistant/answerers.py``) weigh them; the decision (``assistant/decide.py``) reads
# the best sentence's.
FEATURES = ("similarity", "lexical", "rank", "named", "finding", "answer_type")
# A question word the article never uses and English rarely does (wordfreq Zipf < 3.0) names a
# specific thing (ketamine 2.9, ibuprofen 2.9, sourdough 2.8) the article is silent on; names
# like "Parkinson's" are caught as proper names. Paraphrase words stay above ("endorsing" 3.2,
# "painkillers" 3.1) or share a stem with an article word ("talkative" ~ "talk").
RARE_ZIPF = 3.0


def _answer_types() -> dict:
    """The question shapes and answer shapes of ``answer_types.toml``, compiled."""
    data = load_toml(ANSWER_TYPES)
    asks, gives, fragments = data["asks"], data["gives"], data["fragments"]
    return {
        "asks_findings": pattern(asks["findings"], fragments),
        "reports_finding": pattern(gives["finding"], fragments),
        # who / where read capitals, so those shapes are case-sensitive
        "types": (
            (pattern(asks["who"]), pattern(gives["who"], fragments, 0)),
            (pattern(asks["when"]), pattern(gives["when"], fragments)),
            (pattern(asks["where"]), pattern(gives["where"], fragments, 0)),
            (ASKS_COUNT, pattern(gives["count"], fragments)),
            (pattern(asks["why"]), pattern(gives["why"], fragments, 0)),
        ),
    }


_TYPES = _answer_types()
_ASKS_FINDINGS = _TYPES["asks_findings"]
_REPORTS_FINDING = _TYPES["reports_finding"]
# The kind of answer a wh-question wants, and what a sentence giving it looks like.
_ANSWER_TYPES = _TYPES["types"]


class SentenceScorer:
    """The features of the sentences of retrieved passages against a question, with IDF
    statistics of the corpus's sentences; which words of a question the corpus never uses."""

    def __init__(self, sentences: Sequence[Sentence]) -> None:
        self._terms = [content_terms(s.text) for s in sentences]
        df: dict[str, int] = {}
        for terms in self._terms:
            for term in terms:
                df[term] = df.get(term, 0) + 1
        n = len(sentences)
        self._idf = {t: math.log((n + 1) / (c + 0.5)) for t, c in df.items()}
        self._unseen_idf = math.log((n + 1) / 0.5)
        self._stems = sorted(t for t in df if len(t) >= 4)
        # "outweigh" is a word of the article, written "out-weigh"
        self._compounds = {
            m.group(0).replace("-", "").lower()
            for s in sentences
            for m in re.finditer(r"\w+(?:-\w+)+", s.text)
        }

    def idf(self, term: str) -> float:
        return self._idf.get(term, self._unseen_idf)

    def unknown_terms(self, question: str) -> list[str]:
        """Words of the question that name something the article never mentions: words the
        corpus never uses (no shared stem either) that are rare in English (ketamine,
        ibuprofen) or written as a proper name mid-question or an acronym (Oregon, ADHD)."""
        from wordfreq import zipf_frequency

        stopwords = lexicon()[1]
        found = []
        for match in QUESTION_WORD.finditer(question):
            original = re.sub(r"['’]s$", "", match.group(0))
            word = original.lower()
            if len(word) < 2 or word in stopwords or word.isdigit():
                continue
            if self._uses(word):
                continue
            proper = (
                (original[0].isupper() and match.start() > 0)
                or (original.isupper() and len(original) > 1)
                or any(c.isupper() for c in original[1:])  # PhD, iPhone
            )
            if proper or zipf_frequency(word, "en") < RARE_ZIPF:
                found.append(original)
        return found

    def _uses(self, word: str) -> bool:
        """True when the corpus uses this word or one sharing its stem."""
        root = stem(word)
        return root in self._idf or word.lower() in self._compounds or self._shares_stem(root)

    def _shares_stem(self, root: str) -> bool:
        """True when an article stem and this one share a prefix of all but their last three
        letters (and at least four)."""
        if len(root) < 4:
            return False
        need = max(4, len(root) - 3)
        return any(s[:need] == root[:need] for s in self._stems if len(s) >= need)

    def features(
        self,
        question: str,
        query_vector: np.ndarray,
        passages: Sequence[Passage],
        sentence_vectors: np.ndarray,
        sentence_rows: dict[str, list[int]],
        named_passages: Iterable[str] = (),
        name_terms: set[str] = frozenset(),
    ) -> tuple[list[Sentence], np.ndarray]:
        """The candidate sentences of the retrieved passages and their feature rows (FEATURES).
        Names in the question count through the name features, not as shared words."""
        terms = content_terms(question) - name_terms
        total_idf = sum(self.idf(t) for t in terms) or 1.0
        asks_findings = bool(_ASKS_FINDINGS.search(question))
        answer_type = next((shape for asks, shape in _ANSWER_TYPES if asks.search(question)), None)
        named = set(named_passages)
        sentences, rows_out = [], []
        for rank, passage in enumerate(passages, start=1):
            rows = sentence_rows.get(passage.id, [])
            sims = sentence_vectors[rows] @ query_vector if rows else []
            for row, sentence, sim in zip(rows, passage.sentences, sims):
                shared = terms & self._terms[row]
                sentences.append(sentence)
                rows_out.append(
                    (
                        float(sim),
                        sum(self.idf(t) for t in shared) / total_idf,
                        1.0 / rank,
                        float(passage.id in named),
                        float(asks_findings and bool(_REPORTS_FINDING.search(sentence.text))),
                        float(bool(answer_type and answer_type.search(sentence.text))),
                    )
                )
        return sentences, np.asarray(rows_out, dtype=np.float32).reshape(-1, len(FEATURES))

    def unknown_share(self, question: str, name_terms: Collection[str] = ()) -> float:
        """The share of the question's content words (cited names aside) the corpus never uses,
        not even by stem."""
        terms = content_terms(question) - set(name_terms)
        return sum(not self._uses(t) for t in terms) / len(terms) if terms else 0.0

    def missing(self, question: str, quotes: Sequence[str], name_terms: Collection[str]) -> str:
        """Why these quotes (the best first) lack what the question asks, or ""
        (``answer_checks.missing_answer``)."""
        if not quotes:
            return ""
        found = Quotes(
            tuple(quotes), quotes[0], frozenset(name_terms), self._uses, self._idf.keys()
        )
        return missing_answer(question, found)


def asks_type(question: str) -> bool:
    """The question wants a kind of answer (a person, a time, a place, a count, a reason)."""
    return any(asks.search(question) for asks, _ in _ANSWER_TYPES)


def to_sources(sentences: Sequence[Sentence]) -> list[Source]:
    """Number the chosen sentences as cited sources."""
    return [
        Source(i, s.text, s.start, s.end, s.section, s.doc_id) for i, s in enumerate(sentences, 1)
    ]


def compose_answer(sources: Sequence[Source], lead: str) -> str:
    """Markdown: a lead line, then each quote on its own blockquote line with its marker."""
    lines = [lead, ""]
    for source in sources:
        lines += [f"> {source.quote} [{source.id}]", ""]
    return "\n".join(lines).rstrip()
