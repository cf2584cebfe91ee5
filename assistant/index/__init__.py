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

from assistant.index.library import Library, open_library
from assistant.index.manifest import (
    LEASE_SECONDS,
    ChromaManifest,
    FileManifest,
    Manifest,
    builder_id,
    manifest_store,
    read_manifest,
    wanted_manifest,
)
from assistant.index.store import (
    PASSAGES,
    SENTENCES,
    chroma_client,
    collection_name,
    open_collection,
)
from assistant.index.sync import IndexChanges, corpus_records, ensure_index, sync_index

__all__ = [
    "LEASE_SECONDS",
    "PASSAGES",
    "SENTENCES",
    "ChromaManifest",
    "FileManifest",
    "IndexChanges",
    "Library",
    "Manifest",
    "builder_id",
    "chroma_client",
    "collection_name",
    "corpus_records",
    "ensure_index",
    "manifest_store",
    "open_collection",
    "open_library",
    "read_manifest",
    "sync_index",
    "wanted_manifest",
]
