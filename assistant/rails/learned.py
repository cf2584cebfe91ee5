"""The learned intent rail behind the patterns: the bundled MiniLM fine-tuned to tell seven labels
apart (none, crisis, emergency, medical_advice, illegal_supply, harm, dosing), run under ONNX
Runtime from ``models/intents/``. It reads a message no pattern rail fired on, and it fires
only when its probability for a rail clears that rail's threshold (``thresholds.json``, chosen
on held-out messages for at most 1% of the safe look-alikes); when several pattern rails fire,
it may name one (``learned_choice``).

In front of it, a head (``head.json``, a logistic regression) reads the message's sentence
vector, the one retrieval computes for the question anyway: a message the head finds safer
than every held-out unsafe message (``head_none``) never reaches the fine-tuned model, so most
messages cost a dot product. Training: ``make intents`` (``python -m training.intents``, then
``--head``)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from assistant.config import ROOT
from assistant.rails.registry import REASONS

MODEL_DIR = ROOT / "models" / "intents"
LABELS = ("none", *REASONS)  # the model's outputs, in the order it was trained on
MAX_TOKENS = 64
HEAD = "head_none"  # the key of the head's threshold in thresholds.json


def _session(path: Path):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    # one short message a call: one thread is the fastest (0.67 ms against 0.85 ms with two,
    # measured on 2 cores) and leaves the other core to a concurrent turn
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class IntentModel:
    """Label probabilities for a message (one ONNX call), and the rail it is sure of."""

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer

        from assistant.embeddings import model_path

        # the bundled MiniLM's own tokenizer (the model is fine-tuned from it), unpadded: one
        # message a call
        self.tokenizer = Tokenizer.from_file(str(Path(model_path()) / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.no_padding()
        self.session = _session(folder / "intents.onnx")
        self.head = Head.load(folder / "head.json")
        thresholds = folder / "thresholds.json"  # none yet while training calibrates them
        self.thresholds = (
            json.loads(thresholds.read_text(encoding="utf-8")) if thresholds.exists() else {}
        )

    def probabilities(self, text: str) -> dict[str, float]:
        """The fine-tuned model's label probabilities."""
        import numpy as np

        encoded = self.tokenizer.encode(text)
        inputs = {
            "input_ids": np.array([encoded.ids], dtype=np.int64),
            "attention_mask": np.array([encoded.attention_mask], dtype=np.int64),
            "token_type_ids": np.array([encoded.type_ids], dtype=np.int64),
        }
        (logits,) = self.session.run(None, inputs)
        p = np.exp(logits[0] - logits[0].max())
        return dict(zip(LABELS, (p / p.sum()).tolist(), strict=True))

    def clearly_safe(self, vector) -> bool:
        """The head finds the message (its sentence vector) safer than every held-out unsafe
        message; False without a vector or a head."""
        if vector is None or self.head is None or HEAD not in self.thresholds:
            return False
        return self.head.none(vector) >= self.thresholds[HEAD]

    def label(self, text: str, vector=None) -> str | None:
        """The rail this model is confident of, or None; ``vector`` (the message's sentence
        vector, when the caller has it) lets the head answer for clearly safe messages."""
        if self.clearly_safe(vector):
            return None
        p = self.probabilities(text)
        best = max(p, key=p.get)
        if best == "none" or p[best] < self.thresholds.get(best, 1.0):
            return None
        return best


class Head:
    """A logistic regression over sentence vectors: P(none) for a message's vector."""

    def __init__(self, classes: list[str], coef, intercept) -> None:
        import numpy as np

        self.none_at = classes.index("none")
        self.coef = np.asarray(coef, dtype=np.float32)
        self.intercept = np.asarray(intercept, dtype=np.float32)

    @classmethod
    def load(cls, path: Path) -> Head | None:
        if not path.exists():
            return None
        return cls(**json.loads(path.read_text(encoding="utf-8")))

    def none(self, vector) -> float:
        import numpy as np

        logits = self.coef @ np.asarray(vector, dtype=np.float32) + self.intercept
        p = np.exp(logits - logits.max())
        return float(p[self.none_at] / p.sum())


@functools.cache
def intent_model() -> IntentModel | None:
    """The shipped model, loaded once; None when none ships (the patterns still run)."""
    if not (MODEL_DIR / "intents.onnx").exists():
        return None
    return IntentModel(MODEL_DIR)


def learned_choice(text: str, among: list[str]) -> str | None:
    """Of these rails, the one the learned rail finds likeliest for this message, if it is as
    sure of it as it must be to fire that rail alone; else (or without a model) None."""
    model = intent_model()
    if model is None:
        return None
    p = model.probabilities(text)
    likeliest = max(among, key=p.get)
    return likeliest if p[likeliest] >= model.thresholds.get(likeliest, 1.0) else None


def learned_intent(text: str, vector=None) -> str | None:
    """The learned rail's label for this message (``vector``: its sentence vector, if known),
    or None."""
    model = intent_model()
    return model.label(text, vector) if model is not None else None
