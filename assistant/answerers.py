"""The answerers: anything that ranks the candidate sentences of a question by how likely each
holds the answer. One protocol, one registry; the ``decide`` step after them
(``assistant/decide.py``) turns any answerer's ranking into quotes and a calibrated confidence.

    candidates (the retrieved passages' sentences and their features) -> rank -> [(index, log-odds)]

``make_candidates`` builds the candidates from the retrieved passages.

- ``scorer``: a logistic regression over the six sentence features (``answer.FEATURES``), its
  weights in ``models/answer/scorer.json`` (written by ``python -m evals.fit_scorer``);
- ``reader``: the trained cross-encoder (``assistant/reader``) reads the scorer's best few
  candidates; its score and their features are weighed by ``models/reader/calibration.json``.

Adding an answerer: one class with ``name`` and ``rank``, and a line in ``ANSWERERS``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from assistant.answer import FEATURES
from assistant.config import ROOT
from assistant.reader import logit
from assistant.terms import content_terms
from assistant.types import Passage, Sentence

if TYPE_CHECKING:
    from assistant.answer import SentenceScorer
    from assistant.names import CitedName

SCORER_WEIGHTS = ROOT / "models" / "answer" / "scorer.json"


@dataclass(frozen=True)
class Candidates:
    """What every answerer reads: the question, the retrieved passages' sentences in retrieval
    order, and one ``answer.FEATURES`` row per sentence."""

    question: str
    sentences: tuple[Sentence, ...]
    features: np.ndarray
    names_asked: bool = False  # the question names a person the documents cite
    name_terms: frozenset[str] = frozenset()


def make_candidates(
    question: str,
    query_vector,
    passages: Sequence[Passage],
    cited: Sequence[CitedName],
    scorer: SentenceScorer,
    sentence_vectors: np.ndarray,
    sentence_rows: dict[str, list[int]],
) -> Candidates:
    """The retrieved passages' sentences and their answer features: what every answerer ranks
    and the decision reads. ``query_vector`` is the question's (unit) vector, ``cited`` the
    names it mentions (``names.CitedName``), ``sentence_vectors`` the corpus's sentence vectors
    and ``sentence_rows`` a passage id's rows of them."""
    name_terms = frozenset(t for c in cited for alias in c.aliases for t in content_terms(alias))
    sentences, features = scorer.features(
        question=question,
        query_vector=np.asarray(query_vector, dtype=np.float32),
        passages=passages,
        sentence_vectors=sentence_vectors,
        sentence_rows=sentence_rows,
        named_passages={pid for c in cited for pid in c.passage_ids},
        name_terms=name_terms,
    )
    return Candidates(question, tuple(sentences), features, bool(cited), name_terms)


# (candidate index, log-odds that it holds the answer), best first
Ranking = list[tuple[int, float]]


class Answerer(Protocol):
    name: str

    def rank(self, candidates: Candidates) -> Ranking: ...


@cache
def scorer_weights(path: Path = SCORER_WEIGHTS) -> np.ndarray:
    """The scorer's weights, in ``FEATURES`` order."""
    data = json.loads(path.read_text(encoding="utf-8"))["weights"]
    return np.asarray([data[f] for f in FEATURES], dtype=np.float32)


def prior(candidates: Candidates) -> np.ndarray:
    """The scorer's log-odds for every candidate (the reader's pre-filter too)."""
    if not len(candidates.sentences):
        return np.zeros(0, dtype=np.float32)
    return candidates.features @ scorer_weights()


def _ranked(scores) -> Ranking:
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    return [(i, float(scores[i])) for i in order]


class ScorerAnswerer:
    """The feature scorer: a weighted sum of the sentence features."""

    name = "scorer"

    def rank(self, candidates: Candidates) -> Ranking:
        return _ranked(prior(candidates))


class ReaderAnswerer:
    """The trained reader over the scorer's best ``keep`` candidates, in one batched call."""

    name = "reader"

    def __init__(self, model, calibration, keep: int = 8) -> None:
        self.model = model
        self.calibration = calibration
        self.keep = keep

    def rank(self, candidates: Candidates) -> Ranking:
        if not candidates.sentences:
            return []
        best = np.argsort(-prior(candidates), kind="stable")[: self.keep].tolist()
        pairs = [(candidates.question, candidates.sentences[i].text) for i in best]
        scores = self.model.score(pairs)
        probabilities = self.calibration.probabilities(scores, candidates.features[best])
        return _ranked_subset(best, [logit(p) for p in probabilities])


def _ranked_subset(indices: list[int], scores: list[float]) -> Ranking:
    return [(indices[i], s) for i, s in _ranked(scores)]


def make_answerer(name: str, keep: int = 8) -> Answerer:
    """The registered answerer called ``name``; the scorer when a model is missing."""
    if name not in ANSWERERS:
        raise ValueError(f"unknown answerer {name!r}; known: {sorted(ANSWERERS)}")
    return ANSWERERS[name](keep)


def _reader(keep: int) -> Answerer:
    from assistant.reader import reader

    loaded = reader()
    if loaded is None:  # no model ships: the scorer answers
        return ScorerAnswerer()
    return ReaderAnswerer(*loaded, keep=keep)


ANSWERERS = {"scorer": lambda keep: ScorerAnswerer(), "reader": _reader}
