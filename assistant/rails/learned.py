"""The learned intent rail behind the patterns: the bundled MiniLM fine-tuned to tell seven labels
apart (none, crisis, emergency, medical_advice, illegal_supply, harm, dosing), run under ONNX
Runtime from ``models/intents/``. It reads a message no pattern rail fired on, and it fires
only when its probability for a rail clears that rail's threshold (``thresholds.json``, chosen
on held-out messages for a low false rate); when several pattern rails fire, it may name one
(``learned_choice``). A 3-layer cut of it (``gate.onnx``) reads each message first, and a
message it finds safer than every held-out unsafe message (``gate_none``) never reaches the
full model: about half the cost for most messages, and no change on the blind sets. Training: ``make intents``
(``python -m assistant.rails.train_intents``)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from assistant.config import ROOT

MODEL_DIR = ROOT / "models" / "intents"
LABELS = ("none", "crisis", "emergency", "medical_advice", "illegal_supply", "harm", "dosing")
MAX_TOKENS = 64
GATE = "gate_none"  # the key of the gate's threshold in thresholds.json


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
        gate = folder / "gate.onnx"
        self.gate = _session(gate) if gate.exists() else None
        thresholds = folder / "thresholds.json"  # none yet while training calibrates them
        self.thresholds = (
            json.loads(thresholds.read_text(encoding="utf-8")) if thresholds.exists() else {}
        )

    def probabilities(self, text: str, session=None) -> dict[str, float]:
        """The full model's label probabilities (or another session's, such as the gate's)."""
        import numpy as np

        encoded = self.tokenizer.encode(text)
        inputs = {
            "input_ids": np.array([encoded.ids], dtype=np.int64),
            "attention_mask": np.array([encoded.attention_mask], dtype=np.int64),
            "token_type_ids": np.array([encoded.type_ids], dtype=np.int64),
        }
        (logits,) = (session or self.session).run(None, inputs)
        p = np.exp(logits[0] - logits[0].max())
        return dict(zip(LABELS, (p / p.sum()).tolist(), strict=True))

    def clearly_safe(self, text: str) -> bool:
        """The gate finds the message safer than every held-out unsafe message."""
        if self.gate is None or GATE not in self.thresholds:
            return False
        return self.probabilities(text, self.gate)["none"] >= self.thresholds[GATE]

    def label(self, text: str) -> str | None:
        """The rail this model is confident of, or None."""
        if self.clearly_safe(text):
            return None
        p = self.probabilities(text)
        best = max(p, key=p.get)
        if best == "none" or p[best] < self.thresholds.get(best, 1.0):
            return None
        return best


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


def learned_intent(text: str) -> str | None:
    """The learned rail's label for this message, or None."""
    model = intent_model()
    return model.label(text) if model is not None else None
