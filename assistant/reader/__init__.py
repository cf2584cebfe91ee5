"""The reader: a cross-encoder trained by ``python -m training.reader`` (``make reader``)
that reads a question against each candidate sentence and says how likely the sentence holds
the answer. ``assistant/answerers.py`` ranks candidates with it; the decision to answer, say
"not directly" or abstain is the shared one of ``assistant/decide.py``.

The model (``models/reader/reader.onnx``, its tokenizer and ``calibration.json``) ships with the
repository; ``reader()`` returns None when it is missing, and the scorer answers instead.
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


class Reader(Protocol):
    """Anything that scores (question, sentence) pairs in [0, 1]."""

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[float]: ...


# How likely a candidate sentence answers the question: the reader's log-odds beside the
# retrieval and coverage features of the sentence (answer.FEATURES: cosine with the question,
# IDF-weighted overlap, the passage's fused rank, a named person, a reported finding, the kind
# of answer asked), weighed by a logistic regression fitted by ``python -m evals.squad FILE
# --calibrate`` on SQuAD 2.0 dev articles and a fixed half of the project's eval cases. The
# decision after it is ``assistant/decide.py``'s.
SENTENCE_FEATURES = ("reader", "similarity", "lexical", "rank", "named", "finding", "answer_type")


@dataclass(frozen=True)
class Calibration:
    """How likely a candidate holds the answer: with ``weights``, the logistic regression over
    SENTENCE_FEATURES (set by ``python -m evals.squad FILE --calibrate``); without, the
    reader's score alone."""

    weights: tuple[float, ...] = ()
    bias: float = 0.0

    @classmethod
    def load(cls, path: Path) -> Calibration:
        if not path.exists():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(tuple(data.get("weights", ())), float(data.get("bias", 0.0)))

    def probabilities(self, scores: Sequence[float], matrix) -> list[float]:
        """How likely each candidate answers: ``scores`` from the reader, ``matrix`` the
        candidates' answer.FEATURES rows."""
        if not self.weights or matrix is None:
            return list(scores)
        out = []
        for score, row in zip(scores, matrix):
            z = self.bias + self.weights[0] * logit(score)
            z += sum(w * float(x) for w, x in zip(self.weights[1:], row))
            out.append(1.0 / (1.0 + math.exp(-z)))
        return out


def logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


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
