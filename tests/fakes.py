"""Fakes for fast tests of the retrieval and answer stages: no model files, no Chroma, no index.

- ``FakeEncoder``: deterministic hashed bag-of-words vectors with the interface of
  ``assistant.embeddings.QueryEmbeddings`` (``embed_query``, ``embed_documents``, ``embed_many``);
  texts sharing words point the same way, so dense ranking behaves like a (crude) dense model.
- ``fake_library``: a short synthetic article cut into passages and sentences by the project's
  own corpus parsing (``assistant/corpus.py``), with its name index and sentence vectors, shaped
  like ``assistant.index.library.Library`` (without the vector store), and ``.retriever()`` that
  composes the real retrieval components over it.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from assistant.corpus import Document, load_document
from assistant.names import NameIndex
from assistant.types import Passage, Sentence

DIMENSION = 384  # MiniLM's
_WORD = re.compile(r"\w+")

# Passages, in reading order: p000 the lead; p001-p002 report on Quillon (introduced in p001);
# p003-p004 on Renfrew (introduced in p003); p005 neither.
ARTICLE = """---
title: Lighthouses of the North Coast
author: Test Writer
cites:
  Mara Quillon: [Quillon, Quillon et al.]
  Tobias Renfrew: [Renfrew]
---

# Lighthouses of the North Coast

Lighthouses guided ships past the rocky north coast for two centuries. Most towers were built of
granite.

## Keepers

Mara Quillon kept the Skerry light for thirty years. She logged every storm in a leather book.

Her logs show that winter gales grew stronger after 1880. The keepers burned whale oil until
kerosene arrived.

## Surveys

A survey by Tobias Renfrew counted forty-two lighthouses on the coast. He measured the height of
each tower.

The tallest tower stood sixty metres above the sea. Fog horns were added to the towers in 1902.

## Today

Automation replaced the last keepers in 1985. Many towers are now museums that visitors can
climb.
"""


class FakeEncoder:
    """Hashed bag of words: each lower-cased word adds +-1 to one of ``dimension`` components
    (chosen by a stable hash), and the sum is L2-normalised; a text without words is the zero
    vector."""

    def __init__(self, dimension: int = DIMENSION) -> None:
        self.dimension = dimension

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dimension, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            digest = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
            vector[digest % self.dimension] += 1.0 if (digest >> 32) & 1 else -1.0
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector

    def embed_query(self, text: str) -> tuple[float, ...]:
        return tuple(float(x) for x in self._vector(text))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(t).tolist() for t in texts]

    def embed_many(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray([self._vector(t) for t in texts], dtype=np.float32).reshape(
            len(texts), self.dimension
        )


def load_text(text: str, doc_id: str = "article") -> Document:
    """A document parsed from ``text`` as the corpus would parse the file ``<doc_id>.md``."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{doc_id}.md"
        path.write_text(text, encoding="utf-8")
        return load_document(path)


@dataclass
class FakeLibrary:
    """An in-memory index: the fields of ``assistant.index.library.Library`` but the vector
    store, and the encoder and name index over them."""

    documents: dict[str, Document]
    passages: dict[str, Passage]
    sentences: list[Sentence]
    sentence_vectors: np.ndarray
    sentence_rows: dict[str, list[int]]
    encoder: FakeEncoder
    names: NameIndex

    @property
    def ordered(self) -> list[Passage]:
        return sorted(self.passages.values(), key=lambda p: (p.doc_id, p.order))

    def retriever(self, **fields):
        """The real ``HybridRetriever`` over in-memory components (BM25, dense over a matrix
        of the fake encoder's passage vectors, the name index); ``fields`` set k, candidates..."""
        from assistant.retrieval import (
            BM25Retriever,
            HybridRetriever,
            MatrixDenseRetriever,
            NameRetriever,
        )

        parts = {
            "passages": self.passages,
            "bm25": BM25Retriever(self.ordered),
            "dense": MatrixDenseRetriever.from_passages(self.ordered, self.encoder),
            "names": NameRetriever(self.names),
        }
        return HybridRetriever(**{**parts, **fields})


def fake_library(texts: Sequence[str] = (ARTICLE,), dimension: int = DIMENSION) -> FakeLibrary:
    """Documents ``doc0``, ``doc1``... parsed from ``texts``, embedded with a ``FakeEncoder``."""
    return _fake_library(tuple(texts), dimension)


@cache
def _fake_library(texts: tuple[str, ...], dimension: int) -> FakeLibrary:
    ids = ["article"] if len(texts) == 1 else [f"doc{i}" for i in range(len(texts))]
    documents = {d: load_text(t, d) for d, t in zip(ids, texts)}
    passages = {p.id: p for doc in documents.values() for p in doc.passages}
    sentences = [s for doc in documents.values() for s in doc.sentences]
    encoder = FakeEncoder(dimension)
    vectors = encoder.embed_many([s.text for s in sentences])
    rows: dict[str, list[int]] = {}
    for row, sentence in enumerate(sentences):
        rows.setdefault(sentence.passage_id, []).append(row)
    names = NameIndex(list(documents.values()))
    return FakeLibrary(documents, passages, sentences, vectors, rows, encoder, names)


class FakeResources:
    """What the stages read from ``assistant.resources.Resources``, over ``fake_library``: the
    fake encoder, the in-memory retriever, the real scorer and decision (their small JSON
    weights), a router with hand-made weights, the profile's defaults. No Chroma, no neural
    model: every stage of the chain runs on it."""

    def __init__(self, router_model: dict | None = None) -> None:
        from assistant.answer import SentenceScorer
        from assistant.config import Settings
        from assistant.profile import DocumentInfo, load_profile
        from assistant.routes.router import Router

        self.settings = Settings()
        self.library = fake_library()
        self.embeddings = self.library.encoder
        self.names = self.library.names
        self.texts = {d: doc.text for d, doc in self.library.documents.items()}
        self.scorer = SentenceScorer(self.library.sentences)
        documents = [DocumentInfo(d.title, d.author) for d in self.library.documents.values()]
        self.profile = load_profile(Path(tempfile.gettempdir()) / "no-profile-here", documents)
        self.router = Router(self.embeddings.embed_many, self.names, router_model or ROUTER)
        self._answerers: dict = {}

    def retriever(self, variant=None):
        return self.library.retriever(k=self.settings.top_k)

    def answerer(self, name: str | None = None):
        from assistant.answerers import make_answerer

        return self._answerers.setdefault("scorer", make_answerer("scorer"))

    def candidates(self, question: str, passages, names):
        from assistant.answerers import make_candidates

        query = np.asarray(self.embeddings.embed_query(question), dtype=np.float32)
        cited = [self.names.names[n] for n in names]
        return make_candidates(
            question,
            query,
            passages,
            cited,
            self.scorer,
            self.library.sentence_vectors,
            self.library.sentence_rows,
        )


def _router_weights() -> dict:
    """A router over the fake encoder: "author"/"wrote" mean document:author, "sections" means
    document:structure; anything else stays on retrieval."""
    encoder = FakeEncoder()
    labels = ["document:author", "document:structure", "retrieval"]
    cues = [encoder._vector("author wrote"), encoder._vector("sections headings"), None]
    coef = np.zeros((3, DIMENSION), dtype=np.float32)
    for row, cue in enumerate(cues):
        if cue is not None:
            coef[row] = 12.0 * cue
    return {"labels": labels, "coef": coef.tolist(), "intercept": [0.0, 0.0, 2.0], "threshold": 0.5}


ROUTER = _router_weights()
