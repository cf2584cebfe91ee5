"""Ordinary questions from SQuAD 2.0 train (read from ``../shared/squad2``, never copied here):
the same sample every run, for the trainers that need questions about other documents."""

from __future__ import annotations

import json
import random
from pathlib import Path

from assistant.config import ROOT

SQUAD_TRAIN = ROOT.parent / "shared" / "squad2" / "train-v2.0.json"


def squad_questions(n: int, seed: int, path: Path = SQUAD_TRAIN) -> list[str]:
    """``n`` questions of the file, sampled with ``seed``."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    questions = [q["question"] for a in data for p in a["paragraphs"] for q in p["qas"]]
    return random.Random(seed).sample(questions, n)
