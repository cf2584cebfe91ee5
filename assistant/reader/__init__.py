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
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from assistant.config import ROOT
from assistant.types import Sentence

MODEL_DIR = ROOT / "models" / "reader"


class Reader(Protocol):
    """Anything that scores (question, sentence) pairs in [0, 1]."""

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[float]: ...


@dataclass(frozen=True)
class Calibration:
    """Set on the SQuAD 2.0 dev file by ``python -m evals.squad --calibrate`` (see the card)."""

    threshold: float = 0.5  # the best sentence must reach this, or the stage abstains
    keep_ratio: float = 0.5  # a further quote must score at least this share of the best
    max_quotes: int = 3

    @classmethod
    def load(cls, path: Path) -> Calibration:
        if not path.exists():
            return cls()
        return cls(**json.loads(path.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Reading:
    """The reader's verdict on a question: the chosen sentences (empty: abstain) and the best
    score, for the reply's notes and the evals."""

    sentences: tuple[Sentence, ...]
    best: float


def choose(
    scores: Sequence[float], candidates: Sequence[Sentence], calibration: Calibration
) -> Reading:
    """The best sentence if it clears the threshold, with those close to it, in reading order."""
    if not candidates:
        return Reading((), 0.0)
    ranked = sorted(zip(scores, range(len(candidates))), reverse=True)
    best = ranked[0][0]
    if best < calibration.threshold:
        return Reading((), best)
    floor = max(calibration.threshold, best * calibration.keep_ratio)
    chosen = [candidates[i] for s, i in ranked[: calibration.max_quotes] if s >= floor]
    return Reading(tuple(sorted(chosen, key=lambda s: (s.doc_id, s.start))), best)


@lru_cache(maxsize=1)
def reader(model_dir: Path = MODEL_DIR) -> tuple[Reader, Calibration] | None:
    """The shipped reader under ONNX Runtime and its calibration, or None if it is missing."""
    model = model_dir / "reader.onnx"
    if not model.exists():
        return None
    from assistant.reader.onnx import OnnxReader

    onnx = OnnxReader(model, model_dir / "tokenizer" / "tokenizer.json")
    return onnx, Calibration.load(model_dir / "calibration.json")
