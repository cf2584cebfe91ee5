"""assistant/types.py: the one JSON shape of a reply (DESIGN.md) and sources that survive JSON."""

from __future__ import annotations

import dataclasses
import json

import pytest
from contract import REPLY_KEYS, SOURCE_KEYS

from assistant.types import Passage, Reply, Sentence, Source, Turn

# The keys DESIGN.md gives the reply and each of its sources.

SOURCE = Source(1, "verbatim article text", 1234, 1255, "Clinical Trials", "article")


def _reply(**changes) -> Reply:
    reply = Reply(
        question="what did he find?",
        standalone_question="What did James Close find?",
        status="answered",
        answer="The article says:\n\n> verbatim article text [1]\n\n*disclaimer*",
        sources=[SOURCE, Source(2, "another quote", 10, 23, "Intro")],
        disclaimer="*disclaimer*",
        timings_ms={"guard_in": 0.123456, "retrieve": 12.0, "answer": 3.019, "total": 16.5555},
        notes=["internal note"],
    )
    return dataclasses.replace(reply, **changes)


def test_reply_to_dict_has_exactly_the_design_keys():
    data = _reply().to_dict()
    assert set(data) == REPLY_KEYS
    assert "notes" not in data  # notes are for logs and evals, not the reply schema
    for source in data["sources"]:
        assert set(source) == SOURCE_KEYS


def test_reply_to_dict_values_and_rounded_timings():
    data = _reply().to_dict()
    assert data["question"] == "what did he find?"
    assert data["standalone_question"] == "What did James Close find?"
    assert data["status"] == "answered"
    assert data["disclaimer"] == "*disclaimer*"
    assert data["sources"][0] == {
        "id": 1,
        "quote": "verbatim article text",
        "start": 1234,
        "end": 1255,
        "section": "Clinical Trials",
        "document": "article",
    }
    assert data["sources"][1]["document"] == "article"  # the default document
    assert data["timings_ms"] == {
        "guard_in": 0.12,
        "retrieve": 12.0,
        "answer": 3.02,
        "total": 16.56,
    }


def test_reply_to_dict_is_json_serialisable_and_stable():
    reply = _reply()
    text = json.dumps(reply.to_dict(), ensure_ascii=False)
    assert json.loads(text) == reply.to_dict()
    assert reply.to_dict() == reply.to_dict()  # no side effects on the reply


@pytest.mark.parametrize("status", ["answered", "abstained", "refused", "invalid"])
def test_reply_defaults_give_the_same_shape_for_every_status(status):
    data = Reply("q", "q", status, "a").to_dict()
    assert set(data) == REPLY_KEYS
    assert data["sources"] == [] and data["timings_ms"] == {} and data["disclaimer"] == ""


def test_reply_default_lists_are_not_shared():
    a, b = Reply("q", "q", "answered", "a"), Reply("q", "q", "answered", "a")
    a.sources.append(SOURCE)
    a.timings_ms["total"] = 1.0
    assert b.sources == [] and b.timings_ms == {}


def test_source_round_trips_through_json():
    data = json.loads(json.dumps(dataclasses.asdict(SOURCE)))
    assert Source(**data) == SOURCE


def test_sources_of_a_reply_round_trip_through_to_dict():
    reply = _reply()
    back = [Source(**s) for s in json.loads(json.dumps(reply.to_dict()))["sources"]]
    assert back == reply.sources


def test_source_is_frozen_and_hashable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        SOURCE.quote = "changed"  # type: ignore[misc]
    assert len({SOURCE, Source(**dataclasses.asdict(SOURCE))}) == 1


def test_passage_sentence_turn_are_frozen_values():
    sentence = Sentence("article", "article:p000", 0, "A sentence.", 0, 11, "Intro")
    passage = Passage("article:p000", "article", "A sentence.", 0, 11, "Intro", 0, (sentence,))
    turn = Turn("q", "q", "answered", (SOURCE,))
    for value, field in ((sentence, "text"), (passage, "text"), (turn, "question")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, field, "changed")
    assert turn.dosing is False
    assert passage.sentences[0].passage_id == passage.id
