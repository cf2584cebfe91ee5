"""The answer stage: pick the document sentences that answer the question and quote them
verbatim, in document order, each cited; or abstain when nothing in the corpus answers (the
wording of an abstention is the corpus profile's)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.answer_checks import ANSWER_TYPES, ASKS_COUNT, Quotes, is_task, missing_answer
from assistant.patterns import load_toml, pattern
from assistant.terms import QUESTION_WORD, content_terms, lexicon, stem
from assistant.types import Passage, Sentence, Source

# What makes a sentence the answer: features of each (sentence, question) pair, weighted by a
# logistic regression fitted on half of evals/cases and checked on the other half
# (`python -m evals.fit_scorer` prints both and these weights).
# Each weight is the mean of the two folds' fits, rounded. (The passage's own similarity added
# nothing beside the fused rank: its weight flipped sign between folds, so it is not a feature.)
FEATURES = ("similarity", "lexical", "rank", "named", "finding", "answer_type")
WEIGHTS = {
    "similarity": 2.2,
    "lexical": 5.2,
    "rank": 2.7,
    "named": 1.2,
    "finding": 1.5,
    "answer_type": 1.7,
}
# No sentence this similar (cosine, MiniLM) and no cited name asked about: the article does not
# cover the question. Off-topic questions reached at most 0.17 here, answerable ones at least 0.20.
RELEVANCE_FLOOR = 0.18
# Further quotes (up to four) must score within this many log-odds of the best one. Measured
# on the eval cases: 1.5 cites the gold evidence in 0.90 of answers with 2.5 quotes each, 3.0 in
# 0.94 with 2.9 quotes.
KEEP_WITHIN = 3.0
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


@dataclass(frozen=True)
class ScoredSentence:
    sentence: Sentence
    score: float
    similarity: float


@dataclass(frozen=True)
class Selection:
    """The chosen sentences, or none with the reason for abstaining."""

    sentences: tuple[Sentence, ...]
    reason: str = ""


class SentenceScorer:
    """Scores the sentences of retrieved passages against a question, with IDF statistics of
    the corpus's sentences; decides when the article does not cover a question."""

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

    def score(self, *args, **kwargs) -> list[ScoredSentence]:
        """The candidate sentences scored (log-odds of being the answer), best first."""
        sentences, features = self.features(*args, **kwargs)
        weights = np.asarray([WEIGHTS[f] for f in FEATURES], dtype=np.float32)
        scores = features @ weights if len(sentences) else np.zeros(0)
        scored = [
            ScoredSentence(s, float(score), float(f[0]))
            for s, score, f in zip(sentences, scores, features)
        ]
        return sorted(scored, key=lambda s: -s.score)

    def select(
        self,
        question: str,
        scored: Sequence[ScoredSentence],
        max_quotes: int = 4,
        names_asked: bool = False,
        name_terms: set[str] = frozenset(),
    ) -> Selection:
        """The best sentence and those close to it (up to ``max_quotes``), in article order;
        none, with a reason, when the article does not answer the question."""
        if not scored:
            return Selection(())
        if is_task(question):
            return Selection((), "I only answer questions about it, with its own words")
        if not names_asked and max(s.similarity for s in scored) < RELEVANCE_FLOOR:
            return Selection(())
        unknown = self.unknown_terms(question)
        if unknown:
            return Selection((), f"it never mentions {', '.join(unknown)}")
        best = scored[0].score
        chosen = [s.sentence for s in scored[:max_quotes] if s.score >= best - KEEP_WITHIN]
        if len(chosen) < 2 and len(scored) > 1:
            chosen.append(scored[1].sentence)
        quotes = Quotes(
            tuple(s.text for s in chosen),
            scored[0].sentence.text,
            frozenset(name_terms),
            self._uses,
            self._idf.keys(),
        )
        reason = missing_answer(question, quotes)
        if reason:
            return Selection((), reason)
        return Selection(tuple(sorted(chosen, key=lambda s: (s.doc_id, s.start))))


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
