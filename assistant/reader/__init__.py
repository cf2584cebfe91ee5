"""The reader: a cross-encoder trained by ``python -m assistant.reader.train`` (``make reader``)
that reads a question against each candidate sentence and says how likely the sentence holds
the answer. One calibrated threshold on the best sentence decides abstention; the quotes are
the best sentence and those close to it (1-3), in document order.

The model (``models/reader/reader.onnx``, its tokenizer and ``calibration.json``) ships with the
repository; ``reader()`` returns None when it is missing, and the answer stage then falls back
to the feature scorer.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from assistant.config import reader_dir
from assistant.types import Sentence


class Reader(Protocol):
    """Anything that scores (question, sentence) pairs in [0, 1]."""

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[float]: ...


# What decides whether the corpus answers at all: the reader's two best scores (as log-odds)
# beside retrieval and coverage signals of the candidates, weighed by a logistic regression
# fitted on SQuAD 2.0 dev articles (``python -m evals.squad FILE --calibrate``).
DECISION_FEATURES = (
    "reader_best",  # log-odds of the best sentence
    "reader_second",  # log-odds of the runner-up
    "similarity_max",  # best cosine between the question and a candidate (MiniLM)
    "lexical_best",  # IDF share of the question's terms in the reader's best sentence
    "lexical_max",  # ... in any candidate
    "unknown_terms",  # the question names a thing the corpus never mentions
)


@dataclass(frozen=True)
class Calibration:
    """Set on the SQuAD 2.0 dev file by ``python -m evals.squad --calibrate`` (see the card).
    With ``weights`` the decision is the logistic regression over DECISION_FEATURES; without,
    the reader's best score alone against ``threshold``."""

    threshold: float = 0.5  # the decision (or best score) must reach this, or the stage abstains
    keep_ratio: float = 0.5  # a further quote must score at least this share of the best
    max_quotes: int = 3
    weights: tuple[float, ...] = ()
    bias: float = 0.0

    @classmethod
    def load(cls, path: Path) -> Calibration:
        if not path.exists():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        data["weights"] = tuple(data.get("weights", ()))
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def confidence(self, features: Sequence[float]) -> float:
        """How likely the corpus answers, from the decision features."""
        if not self.weights:
            return features[0]
        z = self.bias + sum(w * x for w, x in zip(self.weights, features))
        return 1.0 / (1.0 + math.exp(-z))


@dataclass(frozen=True)
class Reading:
    """The reader's verdict on a question: the chosen sentences (empty: abstain) and the best
    score, for the reply's notes and the evals."""

    sentences: tuple[Sentence, ...]
    confidence: float


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def decision_features(scores: Sequence[float], matrix, unknown: bool) -> list[float]:
    """DECISION_FEATURES of one question: ``matrix`` holds the candidates' similarity (column
    0) and lexical coverage (column 1), in the order of ``scores``."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    best = order[0]
    second = scores[order[1]] if len(order) > 1 else 0.0
    return [
        _logit(scores[best]),
        _logit(second),
        float(matrix[:, 0].max()),
        float(matrix[best, 1]),
        float(matrix[:, 1].max()),
        float(unknown),
    ]


def choose(
    scores: Sequence[float],
    candidates: Sequence[Sentence],
    calibration: Calibration,
    features: Sequence[float] | None = None,
) -> Reading:
    """The best sentence if the decision clears the threshold, with the sentences close to it
    (1-3), in reading order."""
    if not candidates:
        return Reading((), 0.0)
    ranked = sorted(zip(scores, range(len(candidates))), reverse=True)
    best = ranked[0][0]
    confidence = calibration.confidence(features) if features else best
    if confidence < calibration.threshold:
        return Reading((), confidence)
    floor = best * calibration.keep_ratio
    chosen = [candidates[i] for s, i in ranked[: calibration.max_quotes] if s >= floor]
    return Reading(tuple(sorted(chosen, key=lambda s: (s.doc_id, s.start))), confidence)


@lru_cache(maxsize=1)
def reader() -> tuple[Reader, Calibration] | None:
    """The shipped reader under ONNX Runtime and its calibration, or None if it is missing."""
    model_dir = reader_dir()
    model = model_dir / "reader.onnx"
    if not model.exists():
        return None
    from assistant.reader.onnx import OnnxReader

    onnx = OnnxReader(model, model_dir / "tokenizer" / "tokenizer.json")
    return onnx, Calibration.load(model_dir / "calibration.json")
