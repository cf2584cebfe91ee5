"""Reading the index back: the documents, their passages and sentences as stored, the sentence
vectors, and a vector store over one consistent snapshot."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from assistant.config import Settings
from assistant.corpus import (
    Document,
    corpus_files,
    read_document,
    text_hash,
)
from assistant.embeddings import (
    QueryEmbeddings,
    as_langchain,
)
from assistant.index.manifest import manifest_store
from assistant.index.store import (
    PASSAGES,
    SENTENCES,
    chroma_client,
    collection_name,
    open_collection,
)
from assistant.index.sync import ensure_index
from assistant.types import Passage, Sentence



@dataclass
class Library:
    """The opened index: documents with their passages and sentences as stored, the sentence
    vectors (for sentence selection without embedding per turn) and the vector store."""

    documents: dict[str, Document]
    passages: dict[str, Passage]
    sentences: list[Sentence]
    sentence_vectors: object  # np.ndarray (n, 384), rows aligned with ``sentences``
    sentence_rows: dict[str, list[int]]  # passage id -> rows of its sentences
    vectorstore: object  # langchain_chroma.Chroma over the passages collection


def open_library(settings: Settings, embeddings: QueryEmbeddings) -> Library:
    """Read passages, sentences and sentence vectors back from Chroma as one snapshot of a
    complete index built from the documents read beside it: if a build starts or ends while
    reading, or a document changed since it was indexed, bring the index up to date and read
    again."""
    store = manifest_store(settings)
    for _ in range(5):
        before = store.read()
        if before and before.complete:
            library = _read_library(settings, embeddings)
            after = store.read()
            texts = {d.path.name: text_hash(d.text) for d in library.documents.values()}
            if after == before and texts == before.documents:
                return library
        ensure_index(settings)
    raise RuntimeError("The index kept changing while it was being read; try again.")


def _read_library(settings: Settings, embeddings: QueryEmbeddings) -> Library:
    import numpy as np

    client = chroma_client(settings)
    stored_p = open_collection(client, settings, PASSAGES).get(include=["documents", "metadatas"])
    stored_s = open_collection(client, settings, SENTENCES).get(
        include=["documents", "metadatas", "embeddings"]
    )
    sentences = [
        Sentence(m["doc_id"], m["passage_id"], m["index"], text, m["start"], m["end"], m["section"])
        for text, m in zip(stored_s["documents"], stored_s["metadatas"])
    ]
    order = sorted(range(len(sentences)), key=lambda i: (sentences[i].doc_id, sentences[i].index))
    sentences = [sentences[i] for i in order]
    vectors = (
        np.asarray(stored_s["embeddings"], dtype=np.float32)[order]
        if order
        else np.zeros((0, 384), dtype=np.float32)
    )
    rows: dict[str, list[int]] = {}
    for row, s in enumerate(sentences):
        rows.setdefault(s.passage_id, []).append(row)
    passages, hashes = {}, {}
    for pid, text, m in zip(stored_p["ids"], stored_p["documents"], stored_p["metadatas"]):
        own = tuple(sentences[r] for r in rows.get(pid, ()))
        passages[pid] = Passage(
            pid, m["doc_id"], text, m["start"], m["end"], m["section"], m["order"], own
        )
        hashes[pid] = m.get("hash")
    documents = {}
    for path in corpus_files(settings.corpus_dir):
        document = read_document(path)
        own = sorted((p for p in passages.values() if p.doc_id == document.id), key=_order)
        documents[document.id] = replace(document, passages=tuple(own))
    vectorstore = _snapshot_store(
        client, collection_name(settings, PASSAGES), as_langchain(embeddings), hashes
    )
    return Library(documents, passages, sentences, vectors, rows, vectorstore)


def _order(passage: Passage) -> int:
    return passage.order


def _snapshot_store(client, name: str, embedding_function, hashes: dict[str, str]):
    """A LangChain Chroma store whose dense search returns only the passages this process
    loaded, as it loaded them: while another process re-indexes the shared collection, new or
    changed records are left out rather than served against a stale snapshot."""
    from langchain_chroma import Chroma

    class SnapshotChroma(Chroma):
        def similarity_search_by_vector_with_relevance_scores(self, embedding, k=4, **kwargs):
            hits = super().similarity_search_by_vector_with_relevance_scores(
                embedding, k=2 * k, **kwargs
            )
            return [(d, s) for d, s in hits if hashes.get(d.id, "") == d.metadata.get("hash")][:k]

    return SnapshotChroma(
        client=client,
        collection_name=name,
        embedding_function=embedding_function,
        create_collection_if_not_exists=False,
    )
