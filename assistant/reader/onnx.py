"""The trained reader under ONNX Runtime: one batched call scores question–sentence pairs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

MAX_TOKENS = 96  # as trained


class OnnxReader:
    """Scores how well each sentence answers its question: a probability in [0, 1]."""

    def __init__(self, model: Path, tokenizer: Path, threads: int = 0) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(tokenizer))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS, strategy="only_second")
        self.tokenizer.enable_padding()
        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        if threads:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(
            str(model), options, providers=["CPUExecutionProvider"]
        )

    def score(self, pairs: Sequence[tuple[str, str]], batch: int = 64) -> list[float]:
        import numpy as np

        out: list[float] = []
        for at in range(0, len(pairs), batch):
            chunk = pairs[at : at + batch]
            encoded = self.tokenizer.encode_batch([(q, s) for q, s in chunk])
            inputs = {
                "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
            }
            (logits,) = self.session.run(None, inputs)
            out.extend((1.0 / (1.0 + np.exp(-logits[:, 0]))).tolist())
        return out
