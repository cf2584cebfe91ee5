"""The index: incremental sync by record hash, the manifest and its builder lease, snapshot reads.

A deterministic fake model stands in for MiniLM here so every embedding call can be counted;
tests/integration/ runs the real model, a killed build and a real Chroma server.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import replace

import numpy as np
import pytest

from assistant import index
from assistant.config import ROOT, Settings
from assistant.corpus import load_corpus
from assistant.index import (
    PASSAGES,
    SENTENCES,
    FileManifest,
    Manifest,
    builder_id,
    chroma_client,
    ensure_index,
    open_collection,
    open_library,
    read_manifest,
    sync,
    wanted_manifest,
)

NOTES = "Pain Notes\n\nThe first note is about pain. It has two sentences.\n\nA second note.\n"


class CountingEmbeddings:
    """Unit vectors derived from each text's hash; counts what the model would have embedded."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.calls = 0
        self.texts: list[str] = []
        self.fail_after = fail_after

    def _vector(self, text: str) -> list[float]:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        vector = np.random.default_rng(seed).standard_normal(384)
        return (vector / np.linalg.norm(vector)).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt("killed mid-build")
        self.calls += 1
        self.texts += texts
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> tuple[float, ...]:
        return tuple(self._vector(text))


@pytest.fixture
def model(monkeypatch) -> CountingEmbeddings:
    fake = CountingEmbeddings()
    monkeypatch.setattr(sync, "passage_embeddings", lambda: fake)
    return fake


@pytest.fixture
def corpus_settings(tmp_path) -> Settings:
    """A temporary corpus (the article and a short text document) and index."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ROOT / "corpus" / "article.md", corpus / "article.md")
    (corpus / "notes.txt").write_text(NOTES, encoding="utf-8")
    return Settings().replace(corpus_dir=corpus, index_dir=tmp_path / "index", chroma_url="")


def texts_of(settings: Settings) -> int:
    """Passages plus sentences of the corpus: what a full build embeds."""
    documents = load_corpus(settings.corpus_dir)
    return sum(len(d.passages) + len(d.sentences) for d in documents)


def stored_ids(settings: Settings, kind: str) -> set[str]:
    collection = open_collection(chroma_client(settings), settings, kind)
    return set(collection.get(include=[])["ids"])


def assert_complete(settings: Settings, model) -> None:
    """The stored index is exactly the corpus, and opens as a full library."""
    documents = load_corpus(settings.corpus_dir)
    passages = {p.id for d in documents for p in d.passages}
    sentences = {f"{s.doc_id}:s{s.index:05d}" for d in documents for s in d.sentences}
    assert stored_ids(settings, PASSAGES) == passages
    assert stored_ids(settings, SENTENCES) == sentences
    manifest = read_manifest(settings)
    assert manifest.complete and manifest.matches(wanted_manifest(settings))
    assert (manifest.passages, manifest.sentences) == (len(passages), len(sentences))
    library = open_library(settings, model)
    assert set(library.passages) == passages
    assert len(library.sentences) == len(sentences) == library.sentence_vectors.shape[0]
    for doc_id, document in library.documents.items():
        for passage in document.passages:
            assert passage.doc_id == doc_id
            assert document.text[passage.start : passage.end] == passage.text
            for sentence in passage.sentences:
                assert document.text[sentence.start : sentence.end] == sentence.text


def test_a_first_build_embeds_every_passage_and_sentence(corpus_settings, model):
    changes = ensure_index(corpus_settings)
    assert changes and changes.synced
    assert changes.embedded == len(model.texts) == texts_of(corpus_settings)
    assert changes.added == len(stored_ids(corpus_settings, PASSAGES))
    assert_complete(corpus_settings, model)
    assert read_manifest(corpus_settings).generation == 1


def test_a_rerun_with_no_change_does_no_embedding_and_never_loads_the_model(
    corpus_settings, model, monkeypatch
):
    ensure_index(corpus_settings)

    def no_model():
        raise AssertionError("the model was loaded for a no-change run")

    monkeypatch.setattr(sync, "passage_embeddings", no_model)
    monkeypatch.setattr(sync, "load_corpus", no_model)  # not even parsed: hashes decide
    changes = ensure_index(corpus_settings)
    assert not changes
    assert changes.embedded == 0 and changes.unchanged == len(stored_ids(corpus_settings, PASSAGES))
    assert "up to date" in changes.summary()


def test_a_lost_manifest_is_rebuilt_from_record_hashes_without_embedding(corpus_settings, model):
    ensure_index(corpus_settings)
    (corpus_settings.index_dir / "manifest.json").unlink()
    model.texts.clear()
    changes = ensure_index(corpus_settings)
    assert changes.synced and changes.embedded == 0 and model.texts == []
    assert changes.unchanged == len(stored_ids(corpus_settings, PASSAGES))
    assert_complete(corpus_settings, model)


def test_adding_a_document_embeds_only_that_document(corpus_settings, model):
    ensure_index(corpus_settings)
    model.texts.clear()
    (corpus_settings.corpus_dir / "more.txt").write_text(
        "More Notes\n\nA new paragraph on chronic pain research.\n", encoding="utf-8"
    )
    changes = ensure_index(corpus_settings)
    more = [d for d in load_corpus(corpus_settings.corpus_dir) if d.id == "more"][0]
    assert changes.added == len(more.passages) == 2
    assert (changes.changed, changes.removed) == (0, 0)
    assert sorted(model.texts) == sorted(
        [p.text for p in more.passages] + [s.text for s in more.sentences]
    )
    assert_complete(corpus_settings, model)


def test_changing_a_paragraph_embeds_only_that_paragraph(corpus_settings, model):
    ensure_index(corpus_settings)
    model.texts.clear()
    path = corpus_settings.corpus_dir / "notes.txt"
    path.write_text(NOTES.replace("A second note.", "A second, revised note."), encoding="utf-8")
    changes = ensure_index(corpus_settings)
    assert (changes.added, changes.changed, changes.removed) == (0, 1, 0)
    assert model.texts == ["A second, revised note.", "A second, revised note."]
    assert_complete(corpus_settings, model)


def test_an_inserted_paragraph_moves_the_others_without_embedding_them(corpus_settings, model):
    ensure_index(corpus_settings)
    model.texts.clear()
    path = corpus_settings.corpus_dir / "notes.txt"
    path.write_text(NOTES.replace("Pain Notes\n\n", "Pain Notes\n\nAn inserted note.\n\n"))
    changes = ensure_index(corpus_settings)
    # the ids after the insertion now hold their neighbours' texts: stored vectors are reused
    assert model.texts == ["An inserted note.", "An inserted note."]
    assert changes.reused > 0
    assert_complete(corpus_settings, model)


def test_removing_a_document_deletes_its_records_without_embedding(corpus_settings, model):
    ensure_index(corpus_settings)
    model.texts.clear()
    (corpus_settings.corpus_dir / "notes.txt").unlink()
    changes = ensure_index(corpus_settings)
    assert changes.removed == 3 and changes.embedded == 0
    assert not any(i.startswith("notes:") for i in stored_ids(corpus_settings, SENTENCES))
    assert_complete(corpus_settings, model)


def test_moving_text_only_rewrites_metadata(corpus_settings, model):
    ensure_index(corpus_settings)
    model.texts.clear()
    path = corpus_settings.corpus_dir / "notes.txt"
    path.write_text("\n\n\n" + NOTES, encoding="utf-8")  # every offset shifts by three
    changes = ensure_index(corpus_settings)
    assert changes.moved == 3 and changes.embedded == 0
    assert_complete(corpus_settings, model)


def test_rebuild_embeds_everything_again(corpus_settings, model):
    ensure_index(corpus_settings)
    model.texts.clear()
    changes = ensure_index(corpus_settings, rebuild=True)
    assert changes.embedded == texts_of(corpus_settings) == len(model.texts)
    assert read_manifest(corpus_settings).generation == 2
    assert_complete(corpus_settings, model)


def test_progress_counts_the_texts_to_embed(corpus_settings, model):
    bars = []

    class Bar:
        def __init__(self, total, **_):
            self.total, self.n = total, 0
            bars.append(self)

        def update(self, n):
            self.n += n

        def close(self):
            pass

    ensure_index(corpus_settings, progress=Bar)
    assert bars[0].total == bars[0].n == texts_of(corpus_settings)


def test_an_interrupted_build_is_never_taken_for_complete_and_is_repaired(
    corpus_settings, monkeypatch
):
    dying = CountingEmbeddings(fail_after=2)
    monkeypatch.setattr(sync, "passage_embeddings", lambda: dying)
    with pytest.raises(KeyboardInterrupt):
        ensure_index(corpus_settings)
    manifest = read_manifest(corpus_settings)
    assert not manifest.complete and manifest.builder == ""  # released for others to repair
    written = len(stored_ids(corpus_settings, PASSAGES) | stored_ids(corpus_settings, SENTENCES))
    assert 0 < written == len(dying.texts) < texts_of(corpus_settings)

    model = CountingEmbeddings()
    monkeypatch.setattr(sync, "passage_embeddings", lambda: model)
    changes = ensure_index(corpus_settings)
    assert changes.synced
    # only the rest is written (a text already stored under another id lends its vector)
    assert changes.embedded + changes.reused == texts_of(corpus_settings) - len(dying.texts)
    assert changes.embedded == len(model.texts) < texts_of(corpus_settings) / 2
    assert_complete(corpus_settings, model)


def test_a_build_left_by_a_dead_process_is_repaired_at_once(corpus_settings, model):
    ensure_index(corpus_settings)
    dead = subprocess.Popen(["true"])
    dead.wait()
    store = FileManifest(corpus_settings)
    store.write(
        replace(
            store.read(),
            complete=False,
            builder=f"{socket.gethostname()}:{dead.pid}",
            heartbeat=time.time(),
        )
    )
    started = time.monotonic()
    changes = ensure_index(corpus_settings)
    assert changes.synced and changes.embedded == 0
    assert time.monotonic() - started < index.LEASE_SECONDS / 2
    assert_complete(corpus_settings, model)


def test_a_live_builder_elsewhere_is_waited_for(corpus_settings, model, monkeypatch):
    ensure_index(corpus_settings)
    monkeypatch.setattr(sync, "POLL_SECONDS", 0.05)
    other = subprocess.Popen(["sleep", "30"])
    try:
        store = FileManifest(corpus_settings)
        finished = store.read()
        store.write(
            replace(
                finished,
                complete=False,
                builder=f"{socket.gethostname()}:{other.pid}",
                heartbeat=time.time(),
            )
        )
        result = []
        waiter = threading.Thread(target=lambda: result.append(ensure_index(corpus_settings)))
        waiter.start()
        time.sleep(0.5)
        assert waiter.is_alive() and not result  # not served, not rebuilt: waiting
        store.write(finished)  # the other process finishes
        waiter.join(timeout=10)
        assert result and not result[0]  # current after the wait: nothing to do
    finally:
        other.kill()
        other.wait()


def test_a_builder_is_alive_by_pid_here_and_by_heartbeat_elsewhere():
    now = time.time()
    manifest = Manifest("c", "m", "k", complete=False, heartbeat=now)
    assert not replace(manifest, builder=builder_id()).building_elsewhere()  # that is us
    assert replace(manifest, builder="other-host:1").building_elsewhere()
    stale = now - index.LEASE_SECONDS - 1
    assert not replace(manifest, builder="other-host:1", heartbeat=stale).building_elsewhere()
    assert not replace(manifest, builder="other-host:1", complete=True).building_elsewhere()


def test_the_manifest_survives_chroma_metadata():
    manifest = Manifest("c", "m", "k", {"a.md": "1", "b.txt": "2"}, 3, 9, True, "h:1", 2.5, 4)
    metadata = manifest.to_metadata()
    assert all(isinstance(v, str | int | float | bool) for v in metadata.values())
    assert Manifest.from_metadata(metadata) == manifest
    assert Manifest.from_metadata(None) is None
    assert Manifest.from_metadata({"unrelated": 1}) is None


def test_a_manifest_without_its_index_is_not_complete(corpus_settings, model):
    ensure_index(corpus_settings)
    shutil.rmtree(corpus_settings.index_dir / "chroma")
    assert not read_manifest(corpus_settings).complete


def test_dense_search_serves_only_the_loaded_snapshot(corpus_settings, model):
    ensure_index(corpus_settings)
    library = open_library(corpus_settings, model)
    query = "A second note."
    before = library.vectorstore.similarity_search_by_vector_with_relevance_scores(
        list(model.embed_query(query)), k=3
    )
    assert before[0][0].id == "notes:p002"
    # another process re-indexes: a new record with the very same text, and a changed one
    collection = open_collection(chroma_client(corpus_settings), corpus_settings, PASSAGES)
    collection.upsert(
        ids=["other:p000", "notes:p002"],
        documents=[query, "Changed."],
        metadatas=[{"hash": "new"}, {"hash": "changed"}],
        embeddings=[list(model.embed_query(query))] * 2,
    )
    after = library.vectorstore.similarity_search_by_vector_with_relevance_scores(
        list(model.embed_query(query)), k=3
    )
    assert len(after) == 3
    assert {d.id for d, _ in after}.isdisjoint({"other:p000", "notes:p002"})


def test_a_document_edited_after_indexing_is_reindexed_before_it_is_served(corpus_settings, model):
    ensure_index(corpus_settings)
    path = corpus_settings.corpus_dir / "notes.txt"
    path.write_text(NOTES.replace("A second note.", "A new second note."), encoding="utf-8")
    library = open_library(corpus_settings, model)  # no ensure_index in between
    notes = library.documents["notes"]
    assert [p.text for p in notes.passages][-1] == "A new second note."
    for passage in notes.passages:
        assert notes.text[passage.start : passage.end] == passage.text


def test_index_command_adds_a_document_and_says_what_it_did(corpus_settings, model, capsys):
    from assistant.cli import main

    flags = ["--corpus-dir", str(corpus_settings.corpus_dir)]
    flags += ["--index-dir", str(corpus_settings.index_dir)]
    assert main([*flags, "index"]) == 0
    assert "passages added" in capsys.readouterr().out
    source = corpus_settings.index_dir.parent / "extra.txt"
    source.write_text("Extra\n\nOne more paragraph.\n", encoding="utf-8")
    model.texts.clear()
    assert main([*flags, "index", "--add", str(source)]) == 0
    out = capsys.readouterr().out
    assert "Added extra.txt" in out and "2 passages added" in out
    assert (corpus_settings.corpus_dir / "extra.txt").exists()
    assert len(model.texts) == 4
    assert main([*flags, "index"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_index_command_reports_a_bad_document_without_a_traceback(corpus_settings, capsys):
    from assistant.cli import main

    source = corpus_settings.index_dir.parent / "bad.md"
    source.write_text("---\ntitle: [\n---\nx\n", encoding="utf-8")
    flags = ["--corpus-dir", str(corpus_settings.corpus_dir)]
    assert main([*flags, "--index-dir", "x", "index", "--add", str(source)]) == 2
    assert "bad.md" in capsys.readouterr().err
