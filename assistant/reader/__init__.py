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


# How likely a candidate sentence answers the question: the reader's log-odds beside the
# retrieval and coverage features of the sentence (answer.FEATURES: cosine with the question,
# IDF-weighted overlap, the passage's fused rank, a named person, a reported finding, the kind
# of answer asked), weighed by a logistic regression fitted by ``python -m evals.squad FILE
# --calibrate`` on SQuAD 2.0 dev articles and a fixed half of the project's eval cases. The
# best sentence's probability against one threshold decides abstention.
SENTENCE_FEATURES = ("reader", "similarity", "lexical", "rank", "named", "finding", "answer_type")


@dataclass(frozen=True)
class Calibration:
    """Set on the SQuAD 2.0 dev file by ``python -m evals.squad --calibrate`` (see the card).
    With ``weights`` a sentence's probability is the logistic regression over
    SENTENCE_FEATURES; without, the reader's score alone."""

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

    def probabilities(self, scores: Sequence[float], matrix) -> list[float]:
        """How likely each candidate answers: ``scores`` from the reader, ``matrix`` the
        candidates' answer.FEATURES rows."""
        if not self.weights or matrix is None:
            return list(scores)
        out = []
        for score, row in zip(scores, matrix):
            z = self.bias + self.weights[0] * _logit(score)
            z += sum(w * float(x) for w, x in zip(self.weights[1:], row))
            out.append(1.0 / (1.0 + math.exp(-z)))
        return out


@dataclass(frozen=True)
class Reading:
    """The reader's verdict on a question: the chosen sentences (empty: abstain) and the best
    score, for the reply's notes and the evals."""

    sentences: tuple[Sentence, ...]
    confidence: float


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def choose(
    scores: Sequence[float],
    candidates: Sequence[Sentence],
    calibration: Calibration,
    matrix=None,
) -> Reading:
    """The best sentence if its probability clears the threshold, with the sentences close to
    it (1-3), in reading order; none when it does not."""
    if not candidates:
        return Reading((), 0.0)
    probabilities = calibration.probabilities(scores, matrix)
    ranked = sorted(zip(probabilities, range(len(candidates))), reverse=True)
    best = ranked[0][0]
    if best < calibration.threshold:
        return Reading((), best)
    floor = best * calibration.keep_ratio
    chosen = [candidates[i] for p, i in ranked[: calibration.max_quotes] if p >= floor]
    return Reading(tuple(sorted(chosen, key=lambda s: (s.doc_id, s.start))), best)


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
