"""The corpus: documents with a metadata header, split with exact offsets; many documents."""

from __future__ import annotations

import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.config import ROOT
from assistant.corpus import (
    add_document,
    corpus_files,
    load_corpus,
    load_document,
    read_document,
    split_sentences,
)

ARTICLE = ROOT / "corpus" / "article.md"


def test_the_shipped_corpus_is_the_one_article():
    documents = load_corpus(ROOT / "corpus")
    assert [d.id for d in documents] == ["article"]
    article = documents[0]
    assert article.title == "Psychedelic-Assisted Therapy for Chronic Pain and Other Symptoms"
    assert article.author == "Kent Bassett"
    assert "Close et al" in article.cites["James Close"]


def test_every_passage_and_sentence_carries_exact_offsets():
    article = load_document(ARTICLE)
    assert article.passages and article.sentences
    for passage in article.passages:
        assert article.text[passage.start : passage.end] == passage.text
        assert passage.doc_id == "article" and passage.id.startswith("article:p")
        for sentence in passage.sentences:
            assert article.text[sentence.start : sentence.end] == sentence.text
            assert passage.start <= sentence.start < sentence.end <= passage.end
    assert [s.index for s in article.sentences] == list(range(len(article.sentences)))


def test_the_front_matter_is_not_a_passage():
    article = load_document(ARTICLE)
    assert all("author:" not in p.text for p in article.passages)


def test_a_text_file_without_a_header_is_titled_by_its_first_line(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("\n\nPain Notes\n\nFirst paragraph here. It has two sentences.\n")
    document = load_document(path)
    assert (document.id, document.title, document.author, document.source) == (
        "notes",
        "Pain Notes",
        "",
        "",
    )
    assert [p.text for p in document.passages] == [
        "Pain Notes",
        "First paragraph here. It has two sentences.",
    ]


def test_an_empty_text_file_is_titled_by_its_stem(tmp_path):
    path = tmp_path / "empty-notes.txt"
    path.write_text("")
    document = load_document(path)
    assert document.title == "empty-notes" and document.passages == ()


def test_a_markdown_file_without_a_header_is_titled_by_its_first_heading(tmp_path):
    path = tmp_path / "review.md"
    path.write_text("# A Review\n\nSome text.\n")
    assert read_document(path).title == "A Review"


def test_a_header_gives_title_author_and_source(tmp_path):
    path = tmp_path / "close.txt"
    path.write_text(
        "---\ntitle: Self-Medication\nauthor: James Close\nsource: https://example.org/x\n---\n"
        "Body text.\n"
    )
    document = load_document(path)
    assert (document.title, document.author, document.source) == (
        "Self-Medication",
        "James Close",
        "https://example.org/x",
    )
    assert document.passages[0].text == "Body text."
    assert document.text[document.passages[0].start :].startswith("Body text.")


def test_a_byte_order_mark_does_not_hide_the_header(tmp_path):
    path = tmp_path / "bom.md"
    path.write_bytes("\ufeff---\ntitle: With BOM\n---\nText.\n".encode())
    document = load_document(path)
    assert document.title == "With BOM"
    assert document.text[document.passages[0].start : document.passages[0].end] == "Text."


def test_a_broken_header_is_a_clear_error(tmp_path):
    path = tmp_path / "broken.md"
    path.write_text("---\ntitle: [unclosed\n---\nText.\n")
    with pytest.raises(ValueError, match="broken.md"):
        load_document(path)


def test_undecodable_bytes_are_a_clear_error(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(ValueError, match="not UTF-8"):
        load_document(path)


def test_a_corpus_of_several_documents_in_a_stable_order(tmp_path):
    shutil.copy(ARTICLE, tmp_path / "article.md")
    (tmp_path / "b-notes.txt").write_text("B notes\n\nSome text.\n")
    (tmp_path / ".hidden.md").write_text("ignored")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    documents = load_corpus(tmp_path)
    assert [d.id for d in documents] == ["article", "b-notes"]
    ids = [p.id for d in documents for p in d.passages]
    assert len(ids) == len(set(ids))


def test_two_files_with_one_stem_are_refused(tmp_path):
    (tmp_path / "notes.md").write_text("One.\n")
    (tmp_path / "notes.txt").write_text("Two.\n")
    with pytest.raises(ValueError, match="rename"):
        corpus_files(tmp_path)


def test_add_document_copies_a_checked_file(tmp_path):
    corpus, outside = tmp_path / "corpus", tmp_path / "outside"
    outside.mkdir()
    source = outside / "extra.txt"
    source.write_text("Extra Title\n\nA sentence about pain.\n")
    document = add_document(corpus, source)
    assert document.path == corpus / "extra.txt"
    assert (corpus / "extra.txt").read_text() == source.read_text()
    assert document.title == "Extra Title"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("notes.pdf", "x", "only"),
        ("blank.txt", "\n\n", "no text"),
        ("bad.md", "---\ntitle: [\n---\nx\n", "YAML"),
    ],
)
def test_add_document_refuses_what_cannot_be_indexed(tmp_path, name, text, message):
    source = tmp_path / name
    source.write_text(text)
    with pytest.raises(ValueError, match=message):
        add_document(tmp_path / "corpus", source)
    assert not (tmp_path / "corpus" / name).exists()


def test_add_document_refuses_a_second_file_for_one_id(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "article.md").write_text("Text.\n")
    source = tmp_path / "article.txt"
    source.write_text("Other text.\n")
    with pytest.raises(ValueError, match="already document 'article'"):
        add_document(corpus, source)


_words = st.text(alphabet="abcdefghij ", min_size=1, max_size=30).filter(str.strip)
_sentence = st.builds(lambda w, end: w.strip().capitalize() + end, _words, st.sampled_from(".?!"))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(_sentence, min_size=1, max_size=5), min_size=1, max_size=5))
def test_sentence_spans_are_exact_for_any_paragraphs(paragraphs):
    text = "\n\n".join(" ".join(p) for p in paragraphs)
    spans = split_sentences(text)
    assert spans
    for start, end in spans:
        piece = text[start:end]
        assert piece == piece.strip() and piece
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
