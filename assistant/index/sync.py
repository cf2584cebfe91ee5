"""Incremental sync: each record carries a hash of its text and the model, so a sync embeds only
new and changed texts, relabels moved ones, deletes removed ones and leaves the rest alone;
``ensure_index`` wraps it in the manifest's build lease."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

from assistant.config import Settings
from assistant.corpus import (
    Document,
    load_corpus,
    text_hash,
)
from assistant.embeddings import (
    BATCH,
    passage_embeddings,
)
from assistant.index.manifest import (
    ChromaManifest,
    FileManifest,
    Manifest,
    builder_id,
    manifest_store,
    wanted_manifest,
)
from assistant.index.store import PASSAGES, SENTENCES, chroma_client, open_collection

log = logging.getLogger(__name__)

WRITE_BATCH = 1000  # ids per Chroma get, update or delete; well under its max batch size
HEARTBEAT_SECONDS = 5.0
POLL_SECONDS = 0.5


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
