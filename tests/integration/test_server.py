"""Process-level tests with the real model: a real ``chroma run`` server (started once per session
on a free port over a temporary path), the CLI in subprocesses indexing and chatting at once,
several documents, and a build killed with SIGKILL mid-way (embedded and server)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from assistant.config import ROOT, Settings
from assistant.corpus import load_corpus, read_text
from assistant.embeddings import BATCH, get_embeddings
from assistant.index import (
    PASSAGES,
    SENTENCES,
    chroma_client,
    ensure_index,
    open_collection,
    open_library,
    read_manifest,
    wanted_manifest,
)
from tests.servers import chroma_server

ASSISTANT = Path(sys.executable).with_name("assistant")
GATE_CONTROL = """---
title: Gate Control Theory of Pain
author: Test Fixture
source: https://example.org/gate-control
cites:
  Ronald Melzack: [Melzack, Melzack and Wall]
---

# Gate Control Theory of Pain

In 1965 Ronald Melzack and Patrick Wall proposed the gate control theory of pain. They argued \
that a neural gate in the spinal cord controls which signals reach the brain.

According to the theory, activity in large nerve fibres closes the gate, while activity in small \
fibres opens it. Rubbing a bumped elbow eases the pain because it stimulates the large fibres.

The theory changed how researchers thought about chronic pain, because it showed that the brain \
and spinal cord shape pain rather than simply receiving it.
"""


@pytest.fixture(scope="session")
def chroma_url(tmp_path_factory) -> str:
    """A real Chroma server for the session: ``chroma run`` on 127.0.0.1, a free port, a temp path."""
    with chroma_server(tmp_path_factory.mktemp("chroma") / "data") as url:
        yield url


def make_settings(tmp_path: Path, chroma_url: str = "", copies: int = 0) -> Settings:
    """A temporary corpus (the article, plus ``copies`` distinct variants of it) and index, with a
    collection of its own so tests sharing the server never meet."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    article = read_text(ROOT / "corpus" / "article.md")
    (corpus / "article.md").write_text(article, encoding="utf-8")
    head, body = article.split("\n---\n", 1)
    for k in range(copies):
        # real text, made distinct per copy so every passage needs its own embedding
        variant = re.sub(r"(?m)^(?=[A-Z“])", f"In copy {k}, ", body)
        (corpus / f"copy-{k:02d}.md").write_text(f"{head}\n---\n{variant}", encoding="utf-8")
    return Settings().replace(
        corpus_dir=corpus,
        index_dir=tmp_path / "index",
        chroma_url=chroma_url,
        collection=f"t{uuid.uuid4().hex[:12]}",
    )


def command(settings: Settings, *args: str) -> list[str]:
    flags = ["--chroma-url", settings.chroma_url] if settings.chroma_url else []
    flags += ["--corpus-dir", str(settings.corpus_dir), "--index-dir", str(settings.index_dir)]
    return [str(ASSISTANT), *flags, *args]


def environment(settings: Settings) -> dict[str, str]:
    return {**os.environ, "ASSISTANT_COLLECTION": settings.collection}


def run_index(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        command(settings, "index", *args),
        env=environment(settings),
        capture_output=True,
        text=True,
        timeout=600,
    )


class Chat:
    """``assistant chat --jsonl`` in a subprocess: one JSON line in, one reply line out."""

    def __init__(self, settings: Settings, log: Path) -> None:
        self.log = log.open("w")
        self.process = subprocess.Popen(
            command(settings, "chat", "--jsonl"),
            env=environment(settings),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )

    def ask(self, message: str, conversation: str = "c1") -> dict:
        self.process.stdin.write(json.dumps({"message": message, "conversation": conversation}))
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, f"chat exited: {self.log.name}"
        return json.loads(line)

    def close(self) -> None:
        self.process.stdin.close()
        assert self.process.wait(timeout=60) == 0
        self.log.close()


def assert_verified(reply: dict, corpus: Path) -> None:
    """Quoted (answered, or "not directly"), and every quote is its own document's text at its
    offsets."""
    assert reply["status"] in ("answered", "partial"), reply
    assert reply["sources"]
    for source in reply["sources"]:
        (path,) = [p for p in corpus.iterdir() if p.stem == source["document"]]
        assert read_text(path)[source["start"] : source["end"]] == source["quote"]


def assert_complete(settings: Settings) -> None:
    """The stored index is exactly the corpus, marked complete, and opens as a full library."""
    documents = load_corpus(settings.corpus_dir)
    passages = {p.id for d in documents for p in d.passages}
    sentences = {f"{s.doc_id}:s{s.index:05d}" for d in documents for s in d.sentences}
    client = chroma_client(settings)
    for kind, ids in ((PASSAGES, passages), (SENTENCES, sentences)):
        stored = open_collection(client, settings, kind).get(include=["metadatas"])
        assert set(stored["ids"]) == ids
        assert all(m.get("hash") for m in stored["metadatas"])
    manifest = read_manifest(settings)
    assert manifest.complete and manifest.matches(wanted_manifest(settings))
    library = open_library(settings, get_embeddings())
    assert set(library.passages) == passages
    assert library.sentence_vectors.shape == (len(sentences), 384)


@pytest.mark.server
def test_index_then_chat_over_the_server(tmp_path, chroma_url):
    settings = make_settings(tmp_path, chroma_url)
    first = run_index(settings)
    assert first.returncode == 0, first.stderr
    assert "passages added" in first.stdout
    started = time.perf_counter()
    again = run_index(settings)
    elapsed = time.perf_counter() - started
    assert again.returncode == 0 and "up to date" in again.stdout
    assert "Loading weights" not in again.stderr  # hashes decided: the model never loaded
    assert elapsed < 2.0, f"no-change re-run took {elapsed:.2f} s"
    assert not (settings.index_dir / "chroma").exists()  # nothing embedded on local disk
    chat = Chat(settings, tmp_path / "chat.log")
    try:
        assert_verified(chat.ask("What did Close et al. find?"), settings.corpus_dir)
        assert chat.ask("How much MDMA should I take?")["status"] == "refused"
    finally:
        chat.close()
    assert_complete(settings)


@pytest.mark.server
def test_documents_are_cited_and_verified_by_their_own_text(tmp_path, chroma_url):
    from assistant.chain import Assistant

    settings = make_settings(tmp_path, chroma_url)
    (settings.corpus_dir / "gate-control.md").write_text(GATE_CONTROL, encoding="utf-8")
    assistant = Assistant(settings)
    assert set(assistant.resources.texts) == {"article", "gate-control"}
    gate = assistant.reply("What did Melzack and Wall propose?").to_dict()
    assert_verified(gate, settings.corpus_dir)
    assert {s["document"] for s in gate["sources"]} == {"gate-control"}
    close = assistant.reply("What did Close et al. find?").to_dict()
    assert_verified(close, settings.corpus_dir)
    assert {s["document"] for s in close["sources"]} == {"article"}
    assert assistant.reply("What is the capital of Australia?").status == "abstained"


@pytest.mark.server
def test_add_a_text_document_over_the_server(tmp_path, chroma_url):
    settings = make_settings(tmp_path, chroma_url)
    ensure_index(settings)
    notes = tmp_path / "gate-notes.txt"
    notes.write_text(
        "Gate control notes\n\nRubbing a bumped elbow eases the pain because it stimulates the "
        "large nerve fibres that close the gate.\n",
        encoding="utf-8",
    )
    added = run_index(settings, "--add", str(notes))
    assert added.returncode == 0, added.stderr
    assert "Added gate-notes.txt ('Gate control notes')" in added.stdout
    assert "2 passages added, 0 changed, 0 moved, 0 removed" in added.stdout
    assert_complete(settings)


@pytest.mark.server
@pytest.mark.timeout(600)
def test_two_processes_index_and_query_at_once(tmp_path, chroma_url):
    settings = make_settings(tmp_path, chroma_url, copies=1)
    ensure_index(settings)
    serving = Chat(settings, tmp_path / "serving.log")  # loaded before the corpus changes
    try:
        assert_verified(serving.ask("What did Close et al. find?"), settings.corpus_dir)
        (settings.corpus_dir / "gate-control.md").write_text(GATE_CONTROL, encoding="utf-8")
        # two indexers at once on the changed corpus, and a reader starting while they build
        indexers = [
            subprocess.Popen(
                command(settings, "index", *extra),
                env=environment(settings),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for extra in (("--rebuild",), ())
        ]
        building = time.monotonic() + 120
        while not (read_manifest(settings).builder or time.monotonic() > building):
            time.sleep(0.2)
        starting = Chat(settings, tmp_path / "starting.log")
        # the serving process keeps answering from its own snapshot while the index changes
        while any(p.poll() is None for p in indexers):
            assert_verified(serving.ask("What did Hendricks find?", "c2"), settings.corpus_dir)
        outputs = [p.communicate() for p in indexers]
        assert [p.returncode for p in indexers] == [0, 0], outputs
        # the process that started mid-build waited for it, then served the complete index
        gate = starting.ask("What did Melzack and Wall propose?")
        assert_verified(gate, settings.corpus_dir)
        assert {s["document"] for s in gate["sources"]} == {"gate-control"}
        assert_verified(starting.ask("What did Close et al. find?"), settings.corpus_dir)
        starting.close()
    finally:
        serving.close()
    assert_complete(settings)


def kill_mid_build(settings: Settings) -> tuple[int, int]:
    """Start ``assistant index --rebuild`` and SIGKILL it once part of the texts are stored;
    returns (texts shown done, texts in all)."""
    build = subprocess.Popen(
        command(settings, "index", "--rebuild"),
        env=environment(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    shown = b""
    try:
        while chunk := build.stderr.read1(4096):
            shown += chunk
            progress = re.findall(rb"Embedding:[^|]*\|[^|]*\| *(\d+)/(\d+)", shown)
            if progress:
                done, total = map(int, progress[-1])
                if BATCH <= done < total - 2 * BATCH:
                    build.send_signal(signal.SIGKILL)
                    return done, total
        raise AssertionError(f"the build ended before it could be killed: {shown[-500:]!r}")
    finally:
        build.wait()  # reaped: its pid is gone, as after a real crash


@pytest.mark.parametrize("store", ["embedded", pytest.param("server", marks=pytest.mark.server)])
@pytest.mark.timeout(600)
def test_a_build_killed_mid_way_is_repaired_on_the_next_start(tmp_path, store, request):
    chroma_url = request.getfixturevalue("chroma_url") if store == "server" else ""
    settings = make_settings(tmp_path, chroma_url, copies=2)
    done, total = kill_mid_build(settings)

    manifest = read_manifest(settings)
    assert manifest is not None and not manifest.complete  # never taken for a complete index
    assert manifest.builder and not manifest.building_elsewhere()  # its builder is dead
    changes = ensure_index(settings)  # what the next start does
    assert changes.synced
    assert changes.embedded <= total - done  # what the killed build stored is kept
    assert_complete(settings)
    again = ensure_index(settings)
    assert not again and again.embedded == 0


@pytest.mark.timeout(300)
def test_no_change_rerun_of_the_embedded_index_is_quick(tmp_path):
    settings = make_settings(tmp_path)
    ensure_index(settings)
    started = time.perf_counter()
    again = run_index(settings)
    elapsed = time.perf_counter() - started
    assert again.returncode == 0 and "up to date" in again.stdout
    assert "Loading weights" not in again.stderr
    assert elapsed < 2.0, f"no-change re-run took {elapsed:.2f} s"
    shutil.rmtree(settings.index_dir)
