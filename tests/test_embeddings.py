"""The question encoder: the ONNX export gives sentence-transformers' vectors, is made once and
checked, the chain answers without importing torch, and a failed export falls back."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from assistant import embeddings
from assistant.config import ROOT
from assistant.corpus import load_corpus

TEXTS = [
    "What did Close et al. find?",
    "",
    "  ",
    "Psilocybin, MDMA — and ketamine? Ünïcödé, 中文, emoji 🙂.",
    "pain " * 500,  # past the 256-token window
    "How do I bake sourdough bread?",
]


@pytest.fixture(scope="module")
def reference():
    return embeddings.passage_embeddings()


def test_the_export_gives_sentence_transformers_vectors(reference):
    sentences = [s.text for d in load_corpus(ROOT / "corpus", 120) for s in d.sentences][:200]
    texts = TEXTS + sentences
    onnx = embeddings.OnnxEncoder(embeddings.ensure_encoder())(texts)
    exact = np.asarray(reference.embed_documents(texts), dtype=np.float32)
    assert onnx.shape == (len(texts), embeddings.DIMENSION)
    assert np.abs(onnx - exact).max() < 1e-5
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)


def test_batches_and_single_questions_agree():
    model = embeddings.get_embeddings()
    one_by_one = np.asarray([model.embed_query(t) for t in TEXTS], dtype=np.float32)
    batched = np.asarray(model.embed_documents(TEXTS), dtype=np.float32)
    assert np.abs(one_by_one - batched).max() < 1e-5
    assert model.embed_many([]).shape[0] == 0


def test_an_export_that_disagrees_is_refused_and_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(embeddings, "EXPORT_TOLERANCE", -1.0)  # nothing can pass
    target = tmp_path / "encoder.onnx"
    with pytest.raises(RuntimeError, match="differs from sentence-transformers"):
        embeddings.export_encoder(target)
    assert list(tmp_path.iterdir()) == []


def test_without_an_export_questions_fall_back_to_sentence_transformers(
    tmp_path, monkeypatch, reference, caplog
):
    def broken(path):
        raise RuntimeError("no exporter here")

    monkeypatch.setenv("ASSISTANT_ENCODER_DIR", str(tmp_path))
    monkeypatch.setattr(embeddings, "export_encoder", broken)
    embeddings.get_embeddings.cache_clear()
    try:
        model = embeddings.get_embeddings()
        vector = np.asarray(model.embed_query("What did Close et al. find?"))
    finally:
        embeddings.get_embeddings.cache_clear()
    assert "embedding questions with sentence-transformers" in caplog.text
    expected = reference.embed_query("What did Close et al. find?")
    assert np.abs(vector - expected).max() < 1e-6


def test_a_cold_reply_imports_neither_torch_nor_sentence_transformers(settings, assistant):
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from assistant.chain import Assistant\n"
        "from assistant.config import Settings\n"
        f"reply = Assistant(Settings().replace(index_dir=Path({str(settings.index_dir)!r}),"
        " chroma_url='')).reply('What did Close et al. find about psychedelics and chronic pain?')\n"
        "heavy = sorted(m for m in ('torch', 'sentence_transformers', 'transformers', 'sklearn')"
        " if m in sys.modules)\n"
        "print(reply.status, heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.split("\n")[-2] == "answered []", out.stdout + out.stderr
