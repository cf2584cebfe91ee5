"""Exporting a fine-tuned transformers classifier (the reader, the learned intent rail) to ONNX:
inputs ``input_ids``, ``attention_mask``, ``token_type_ids`` with dynamic batch and length,
output ``logits``. Training time only (torch)."""

from __future__ import annotations

import warnings
from pathlib import Path

INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_logits(model, sample: dict, path: Path) -> None:
    """Write ``model`` (in eval mode) to ``path``, traced on the tokenised ``sample``."""
    import torch

    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            tuple(sample[n] for n in INPUTS),
            str(path),
            input_names=list(INPUTS),
            output_names=["logits"],
            dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in INPUTS}, "logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
