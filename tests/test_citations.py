"""assistant/citations.py: the source event Open WebUI reads, checked field by field."""

from __future__ import annotations

from assistant.citations import LABEL_CHARS, short_label, source_event
from assistant.types import Reply, Source


def open_webui_reads(event: dict) -> None:
    """The fields Open WebUI's page reads of a ``source`` event: ``document`` and ``metadata``
    parallel, each entry's ``metadata.source`` its citation id (distinct: one chip a quote)
    and ``metadata.name`` its label."""
    assert event["type"] == "source"
    data = event["data"]
    assert isinstance(data["source"]["name"], str) and data["source"]["name"]
    assert len(data["document"]) == len(data["metadata"]) > 0
    assert all(isinstance(d, str) and d for d in data["document"])
    ids = [m["source"] for m in data["metadata"]]
    assert len(set(ids)) == len(ids)
    assert all(0 < len(m["name"]) <= LABEL_CHARS for m in data["metadata"])


def reply(*sections: str) -> dict:
    sources = [
        Source(i + 1, f"quote {i}", 10 * i, 10 * i + 7, section)
        for i, section in enumerate(sections)
    ]
    return Reply("q", "q", "answered", "a", sources=sources).to_dict()


def test_each_quote_is_one_cited_passage_in_order():
    event = source_event(
        reply("Does MDMA-Assisted Therapy Work for Chronic Pain?", "Callie"), "Ask the article"
    )
    open_webui_reads(event)
    metadata = event["data"]["metadata"]
    assert event["data"]["document"] == ["quote 0", "quote 1"]
    assert [m["source"] for m in metadata] == ["article:0-7", "article:10-17"]
    assert metadata[0]["name"].startswith("[1] Does MDMA") and metadata[0]["name"].endswith("…")
    assert metadata[1]["name"] == "[2] Callie"
    assert (metadata[1]["start"], metadata[1]["end"]) == (10, 17)


def test_a_reply_without_quotes_has_no_event():
    assert source_event(reply(), "Ask the article") is None


def test_labels_are_cut_at_a_word():
    assert short_label("short") == "short"
    assert short_label("one two three four five six seven eight") == "one two three four five six…"
    assert len(short_label("x" * 80)) == LABEL_CHARS
