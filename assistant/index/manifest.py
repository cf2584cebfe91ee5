"""The manifest: what an index was built from, and whether that build finished. A builder marks
it as building (host:pid, with a heartbeat) before its first write and complete after its last,
so an interrupted build is found and repaired, and no process serves a half-built index.
Embedded mode keeps it in a file beside the index (read without importing chromadb); server
mode in the passages collection's metadata, which every process and machine sees."""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from dataclasses import asdict, dataclass, field
from functools import cached_property
from urllib.error import HTTPError
from urllib.request import urlopen

from assistant.config import Settings
from assistant.corpus import (
    corpus_files,
    read_text,
    text_hash,
)
from assistant.embeddings import (
    model_hash,
)
from assistant.index.store import PASSAGES, chroma_client, collection_name, open_collection


MANIFEST = "manifest.json"
# The record layout; a change here re-syncs every index once.
RECORDS_VERSION = "records-v2"
# A builder on another machine that has not written for LEASE_SECONDS is taken for dead; one on
# this machine is checked by its pid at once. It writes a heartbeat at least every few seconds.
LEASE_SECONDS = 60.0


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
