"""assistant/document.py: which messages ask about the document as a whole, and the answers
quoted from its header and sections."""

from __future__ import annotations

import pytest

from assistant.document import answer_about_documents, document_question


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("Who is the author of this article?", "author"),
        ("who wrote it", "author"),
        ("What's the title of the article?", "title"),
        ("What is this article about?", "summary"),
        ("Can you summarize it for me?", "summary"),
        ("tl;dr", "summary"),
        ("What does the article say about MDMA?", None),
        ("Who wrote the self-medication study?", None),
        ("What is microdosing about?", None),
    ],
)
def test_document_questions_are_whole_message_asks(message, kind):
    assert document_question(message) == kind


def test_the_author_is_quoted_from_the_header(resources, article_text):
    found = answer_about_documents("author", resources.library)
    (source,) = found.sources
    assert source.quote == "Kent Bassett"
    assert article_text[source.start : source.end] == "Kent Bassett"


def test_the_summary_quotes_one_sentence_per_section_in_order(resources):
    found = answer_about_documents("summary", resources.library)
    texts = resources.texts
    assert 3 <= len(found.sources) <= 8
    assert [s.start for s in found.sources] == sorted(s.start for s in found.sources)
    assert len({s.section for s in found.sources}) == len(found.sources)
    assert all(texts[s.document][s.start : s.end] == s.quote for s in found.sources)
