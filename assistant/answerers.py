"""The answerers: anything that ranks the candidate sentences of a question by how likely each
holds the answer. One protocol, one registry; the ``decide`` step after them
(``assistant/decide.py``) turns any answerer's ranking into quotes and a calibrated confidence.

    candidates (the retrieved passages' sentences and their features) -> rank -> [(index, log-odds)]

- ``scorer``: a logistic regression over the six sentence features (``answer.FEATURES``), its
  weights in ``models/answer/scorer.json`` (written by ``python -m evals.fit_scorer``);
- ``reader``: the trained cross-encoder (``assistant/reader``) reads the scorer's best few
  candidates; its score and their features are weighed by ``models/reader/calibration.json``.

Adding an answerer: one class with ``name`` and ``rank``, and a line in ``ANSWERERS``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Protocol

import numpy as np

from assistant.answer import FEATURES
from assistant.config import ROOT
from assistant.reader import logit
from assistant.types import Sentence

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
