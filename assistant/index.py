"""The persisted index: every corpus document's passages and sentences, embedded with the bundled
MiniLM and stored in Chroma (an embedded ``PersistentClient``, or a ``chroma run`` server).

Indexing is incremental. Each record carries a hash of its text and the model, so a sync embeds
only new and changed texts, relabels moved ones, deletes removed ones and leaves the rest alone.
A manifest says what the index was built from. It is marked as building (by host:pid, with a
heartbeat) before the first write and complete after the last, so an interrupted build is found
and repaired on the next start, and no process serves a half-built index. Embedded mode keeps the
manifest in a file beside the index (read without importing chromadb, so a no-change run is
quick); server mode keeps it in the passages collection's metadata, where every process and
machine using the server sees the same one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import urlparse
from urllib.request import urlopen

from assistant.config import Settings, apply_offline_env
from assistant.corpus import (
    Document,
    corpus_files,
    load_corpus,
    read_document,
    read_text,
    text_hash,
)
from assistant.embeddings import (
    BATCH,
    QueryEmbeddings,
    as_langchain,
    model_hash,
    passage_embeddings,
)
from assistant.types import Passage, Sentence

log = logging.getLogger(__name__)

PASSAGES = "passages"
SENTENCES = "sentences"
MANIFEST = "manifest.json"
WRITE_BATCH = 1000  # ids per Chroma get, update or delete; well under its max batch size
# The record layout; a change here re-syncs every index once.
RECORDS_VERSION = "records-v2"
# A builder on another machine that has not written for LEASE_SECONDS is taken for dead; one on
# this machine is checked by its pid at once. It writes a heartbeat at least every few seconds.
LEASE_SECONDS = 60.0
HEARTBEAT_SECONDS = 5.0
POLL_SECONDS = 0.5


# --- Chroma -------------------------------------------------------------------------------------


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


@contextlib.contextmanager
def chroma_server(path: Path, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run the chromadb package's own server (``chroma run``) over ``path`` until the block ends,
    on a free port unless one is given; yields its URL. For tests, benchmarks and trying server
    mode on one machine."""
    if not port:
        with socket.socket() as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
    path.mkdir(parents=True, exist_ok=True)
    url = f"http://{host}:{port}"
    command = [str(Path(sys.executable).with_name("chroma")), "run", "--path", str(path)]
    command += ["--host", host, "--port", str(port)]
    with open(path.with_name(path.name + ".log"), "ab") as server_log:
        server = subprocess.Popen(
            command,
            stdout=server_log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
        try:
            _wait_until_up(url, server)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _wait_until_up(url: str, server: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"chroma run exited with status {server.returncode}")
        with contextlib.suppress(OSError), urlopen(f"{url}/api/v2/heartbeat", timeout=2):
            return
        time.sleep(0.1)
    raise TimeoutError(f"chroma run did not answer at {url} within {timeout:.0f} s")


# --- The manifest -------------------------------------------------------------------------------


def builder_id() -> str:
    """Who is building: this host and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        pass  # someone else's process, or not a pid: assume alive, the lease decides
    return True


@dataclass
class Manifest:
    """What an index was built from, and whether that build finished."""

    corpus: str
    model: str
    chunking: str
    documents: dict[str, str] = field(default_factory=dict)  # file name -> text hash
    passages: int = 0
    sentences: int = 0
    complete: bool = False
    builder: str = ""  # host:pid of the process writing, while a build runs
    heartbeat: float = 0.0  # time.time() of the builder's last sign of life
    generation: int = 0  # bumped by every build, so a reader can tell its snapshot changed

    def matches(self, other: Manifest) -> bool:
        return (self.corpus, self.model, self.chunking) == (
            other.corpus,
            other.model,
            other.chunking,
        )

    def building_elsewhere(self) -> bool:
        """True while a live process other than this one is writing the index."""
        if self.complete or not self.builder or self.builder == builder_id():
            return False
        if time.time() - self.heartbeat > LEASE_SECONDS:
            return False
        host, _, pid = self.builder.rpartition(":")
        return host != socket.gethostname() or _pid_alive(pid)

    def to_metadata(self) -> dict:
        """Flat values, as Chroma collection metadata must be."""
        return {**asdict(self), "documents": json.dumps(self.documents, sort_keys=True)}

    @classmethod
    def from_metadata(cls, metadata: dict | None) -> Manifest | None:
        try:
            values = dict(metadata or {})
            values["documents"] = json.loads(values.get("documents") or "{}")
            return cls(**values)
        except (ValueError, TypeError):
            return None


class FileManifest:
    """An embedded index's manifest: a JSON file beside it, replaced atomically."""

    claim_settle = 0.0  # one process per embedded index (a Chroma rule), so no claim race

    def __init__(self, settings: Settings) -> None:
        self.path = settings.index_dir / MANIFEST
        self.store = settings.index_dir / "chroma" / "chroma.sqlite3"

    def read(self) -> Manifest | None:
        try:
            manifest = Manifest(**json.loads(self.path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None
        if not self.store.exists():  # no index is complete without its data
            manifest.complete = False
        return manifest

    def write(self, manifest: Manifest) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(manifest), indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)


class ChromaManifest:
    """A server index's manifest: the passages collection's metadata, which every process and
    machine using the server reads and writes."""

    # Two processes that claim a build at the same moment both write; after this pause the one
    # whose claim was overwritten sees it and waits. (Were both to build, their writes are the
    # same upserts and deletes, so the index would still end complete.)
    claim_settle = 0.3

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def client(self):
        return chroma_client(self.settings)

    def read(self) -> Manifest | None:
        # One plain GET of Chroma's REST API: importing chromadb alone takes about 2 s on a
        # 2-CPU machine (python -X importtime), and a no-change run should not pay for it.
        name = collection_name(self.settings, PASSAGES)
        url = self.settings.chroma_url.rstrip("/")
        url += f"/api/v2/tenants/default_tenant/databases/default_database/collections/{name}"
        try:
            with urlopen(url, timeout=30) as response:
                return Manifest.from_metadata(json.load(response).get("metadata"))
        except HTTPError as error:
            if error.code == 404:
                return None
            raise

    def write(self, manifest: Manifest) -> None:
        collection = open_collection(self.client, self.settings, PASSAGES)
        collection.modify(metadata=manifest.to_metadata())


def manifest_store(settings: Settings) -> FileManifest | ChromaManifest:
    """Where this index keeps its manifest: a file (embedded) or the server (``chroma_url``)."""
    return ChromaManifest(settings) if settings.chroma_url else FileManifest(settings)


def wanted_manifest(settings: Settings) -> Manifest:
    """The manifest an up-to-date index would have (file hashes only: no parsing, no model)."""
    docs = {p.name: text_hash(read_text(p)) for p in corpus_files(settings.corpus_dir)}
    return Manifest(
        corpus=text_hash(json.dumps(docs, sort_keys=True)),
        model=model_hash(),
        chunking=text_hash(
            f"paragraph-windows:{settings.max_passage_words}:pysbd+quotes:{RECORDS_VERSION}"
        ),
        documents=docs,
    )


def read_manifest(settings: Settings) -> Manifest | None:
    """The manifest of the index these settings point at, if there is one."""
    return manifest_store(settings).read()


# --- Incremental sync ---------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexChanges:
    """What one ``ensure_index`` did, counted in passages (their sentences follow them);
    ``embedded`` counts every text the model saw, passages and sentences together."""

    synced: bool = False  # False: the manifest showed the index current; nothing was read
    added: int = 0
    changed: int = 0  # new text under an existing id
    moved: int = 0  # same text, new offsets, section or order: metadata rewritten, no embedding
    removed: int = 0
    unchanged: int = 0
    embedded: int = 0
    reused: int = 0  # texts whose stored vector was copied instead of embedded again
    seconds: float = 0.0

    def __bool__(self) -> bool:
        return self.synced

    def summary(self) -> str:
        """One line for the command line."""
        if not self.synced:
            return (
                f"Index is up to date ({self.unchanged} passages); no embedding needed "
                f"({self.seconds:.2f} s)."
            )
        return (
            f"Indexed: {self.added} passages added, {self.changed} changed, {self.moved} moved, "
            f"{self.removed} removed, {self.unchanged} unchanged; embedded {self.embedded} texts, "
            f"reused {self.reused} stored vectors ({self.seconds:.1f} s)."
        )


@dataclass(frozen=True)
class Records:
    """What one collection should hold: ids, texts, and metadata carrying each text's hash."""

    ids: list[str]
    texts: list[str]
    metadatas: list[dict]


def record_hash(model: str, text: str) -> str:
    """A stored vector is current when its text and the model are what they were."""
    return text_hash(f"{model}\n{text}")


def corpus_records(documents: Sequence[Document], model: str) -> dict[str, Records]:
    """The passage and sentence records for the documents."""
    passages = [p for d in documents for p in d.passages]
    sentences = [s for p in passages for s in p.sentences]
    return {
        PASSAGES: Records(
            [p.id for p in passages],
            [p.text for p in passages],
            [
                {
                    "doc_id": p.doc_id,
                    "section": p.section,
                    "start": p.start,
                    "end": p.end,
                    "order": p.order,
                    "hash": record_hash(model, p.text),
                }
                for p in passages
            ],
        ),
        SENTENCES: Records(
            [f"{s.doc_id}:s{s.index:05d}" for s in sentences],
            [s.text for s in sentences],
            [
                {
                    "doc_id": s.doc_id,
                    "passage_id": s.passage_id,
                    "section": s.section,
                    "start": s.start,
                    "end": s.end,
                    "index": s.index,
                    "hash": record_hash(model, s.text),
                }
                for s in sentences
            ],
        ),
    }


@dataclass
class _Plan:
    """The writes that bring one collection in line with its records."""

    write: list[int]  # rows of the records to upsert (new text)
    relabel: list[int]  # rows whose text is stored but whose metadata changed
    remove: list[str]  # stored ids no longer wanted
    reuse: dict[str, object]  # record hash -> a vector already stored for that text
    added: int = 0


def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _plan(collection, records: Records, rebuild: bool) -> _Plan:
    stored = collection.get(include=["metadatas"])
    have = dict(zip(stored["ids"], stored["metadatas"]))
    write, relabel = [], []
    for row, (rid, meta) in enumerate(zip(records.ids, records.metadatas)):
        old = have.get(rid)
        if rebuild or old is None or old.get("hash") != meta["hash"]:
            write.append(row)
        elif old != meta:
            relabel.append(row)
    wanted_ids = set(records.ids)
    plan = _Plan(write, relabel, [rid for rid in have if rid not in wanted_ids], {})
    plan.added = sum(1 for row in write if records.ids[row] not in have)
    if not rebuild:  # a paragraph that moved, or a copy of a stored one, keeps its vector
        needed = {records.metadatas[row]["hash"] for row in write}
        holders = {m.get("hash"): rid for rid, m in have.items() if m.get("hash") in needed}
        for ids in _chunks(list(holders.values()), WRITE_BATCH):
            got = collection.get(ids=list(ids), include=["embeddings", "metadatas"])
            for meta, vector in zip(got["metadatas"], got["embeddings"]):
                plan.reuse[meta["hash"]] = vector
    return plan


def _apply(collection, records: Records, plan: _Plan, embed: Callable, tick: Callable) -> int:
    """Carry out a plan; returns how many texts were embedded."""
    embedded = 0
    for rows in _chunks(plan.write, BATCH):
        hashes = [records.metadatas[r]["hash"] for r in rows]
        todo = [r for r, h in zip(rows, hashes) if h not in plan.reuse]
        fresh = dict(zip(todo, embed([records.texts[r] for r in todo]))) if todo else {}
        collection.upsert(
            ids=[records.ids[r] for r in rows],
            documents=[records.texts[r] for r in rows],
            metadatas=[records.metadatas[r] for r in rows],
            embeddings=[fresh[r] if r in fresh else plan.reuse[h] for r, h in zip(rows, hashes)],
        )
        embedded += len(todo)
        tick(len(todo))
    for rows in _chunks(plan.relabel, WRITE_BATCH):
        collection.update(
            ids=[records.ids[r] for r in rows], metadatas=[records.metadatas[r] for r in rows]
        )
        tick(0)
    for ids in _chunks(plan.remove, WRITE_BATCH):
        collection.delete(ids=list(ids))
        tick(0)
    return embedded


def sync_index(
    settings: Settings,
    records: dict[str, Records],
    rebuild: bool = False,
    progress: Callable | None = None,
    heartbeat: Callable[[], None] = lambda: None,
) -> IndexChanges:
    """Make the collections hold exactly ``records``: upsert new and changed texts (embedding
    only those with no stored vector), relabel moved ones, delete removed ones. Loads the model
    only when something needs embedding."""
    client = chroma_client(settings)
    collections = {kind: open_collection(client, settings, kind) for kind in records}
    plans = {kind: _plan(collections[kind], records[kind], rebuild) for kind in records}
    total = sum(
        1
        for kind, plan in plans.items()
        for row in plan.write
        if records[kind].metadatas[row]["hash"] not in plan.reuse
    )
    bar = progress(total=total, desc="Embedding", unit="text") if progress and total else None

    def embed(texts: list[str]) -> list[list[float]]:
        return passage_embeddings().embed_documents(texts)

    def tick(n: int) -> None:
        if bar:
            bar.update(n)
        heartbeat()

    try:
        embedded = sum(
            _apply(collections[kind], records[kind], plans[kind], embed, tick) for kind in records
        )
    finally:
        if bar:
            bar.close()
    for kind, collection in collections.items():
        if collection.count() != len(records[kind].ids):
            raise RuntimeError(
                f"the {kind} collection changed while it was being indexed; run the index again"
            )
    p = plans[PASSAGES]
    return IndexChanges(
        synced=True,
        added=p.added,
        changed=len(p.write) - p.added,
        moved=len(p.relabel),
        removed=len(p.remove),
        unchanged=len(records[PASSAGES].ids) - len(p.write) - len(p.relabel),
        embedded=embedded,
        reused=sum(len(pl.write) for pl in plans.values()) - embedded,
    )


def _wait_for_builder(store: FileManifest | ChromaManifest, have: Manifest) -> None:
    log.warning("Waiting for %s to finish building the index...", have.builder)
    while (now := store.read()) and now.building_elsewhere():
        time.sleep(POLL_SECONDS)


def ensure_index(
    settings: Settings, progress: Callable | None = None, rebuild: bool = False
) -> IndexChanges:
    """Bring the index in line with the corpus. Compares hashes first (no model, no parsing);
    waits while another live process builds; repairs an interrupted build; embeds only new and
    changed texts. The result is falsy when the index was already current."""
    started = time.perf_counter()
    wanted = wanted_manifest(settings)
    store = manifest_store(settings)
    while True:
        have = store.read()
        if have and have.building_elsewhere():
            _wait_for_builder(store, have)
            continue
        if not rebuild and have and have.complete and have.matches(wanted):
            return IndexChanges(unchanged=have.passages, seconds=time.perf_counter() - started)
        generation = (have.generation if have else 0) + 1
        claim = replace(wanted, builder=builder_id(), heartbeat=time.time(), generation=generation)
        store.write(claim)
        time.sleep(store.claim_settle)
        now = store.read()
        if now and now.builder == claim.builder:
            break

    last_beat = [time.monotonic()]

    def heartbeat() -> None:
        if time.monotonic() - last_beat[0] > HEARTBEAT_SECONDS:
            store.write(replace(claim, heartbeat=time.time()))
            last_beat[0] = time.monotonic()

    try:
        documents = load_corpus(settings.corpus_dir, settings.max_passage_words)
        records = corpus_records(documents, wanted.model)
        changes = sync_index(settings, records, rebuild, progress, heartbeat)
    except BaseException:
        with contextlib.suppress(Exception):  # let the next process repair at once
            store.write(replace(claim, builder="", heartbeat=0.0))
        raise
    store.write(
        replace(
            claim,
            complete=True,
            builder="",
            heartbeat=time.time(),
            passages=len(records[PASSAGES].ids),
            sentences=len(records[SENTENCES].ids),
        )
    )
    return replace(changes, seconds=time.perf_counter() - started)


# --- Reading the index back ---------------------------------------------------------------------


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
