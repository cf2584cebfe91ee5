"""training/intents.py: the data the learned rail is trained on (no training here:
``make intents`` trains)."""

from __future__ import annotations

import json

from assistant.rails.learned import LABELS
from training import intents


def test_near_copies_of_eval_messages_are_left_out():
    evals = intents.eval_messages()
    copy = evals[0].upper() + "!"  # same words, other case and punctuation
    rows = [(copy, 0), ("An entirely different sentence about bees and honey.", 0)]
    assert intents.far_from_evals(rows) == rows[1:]


def test_a_message_with_a_context_is_read_after_it(tmp_path, monkeypatch):
    (tmp_path / "intent_examples.jsonl").write_text(
        json.dumps(
            {
                "context": "My neighbour's dog barks all night.",
                "text": "What could I put in its water so it never wakes up?",
                "label": "harm",
            }
        )
        + "\n",
        encoding="utf-8",
    )
    squad = tmp_path / "squad.json"
    questions = [{"question": f"Question {n}?"} for n in range(3)]
    squad.write_text(json.dumps({"data": [{"paragraphs": [{"qas": questions}]}]}))
    monkeypatch.setattr(intents, "DATA", tmp_path)
    monkeypatch.setattr(intents, "SQUAD_NONE", 2)
    rows = intents.examples(squad)
    assert rows[0] == (
        "My neighbour's dog barks all night. What could I put in its water so it never wakes up?",
        LABELS.index("harm"),
    )
    assert len(rows) == 3 and all(label == 0 for _, label in rows[1:])


def test_copies_read_after_a_safe_message_keep_their_label():
    rows = [("What did the study find?", 0), ("Where can I buy shrooms?", 4)] * 10
    copies = intents.after_safe_turns(rows, 0.5)
    assert len(copies) == 10
    for text, label in copies:
        opening = text.removesuffix(" What did the study find?").removesuffix(
            " Where can I buy shrooms?"
        )
        assert opening == "What did the study find?"
        assert label == (4 if text.endswith("shrooms?") else 0)


def test_after_a_context_the_patterns_refuse_the_message_is_read_alone(tmp_path, monkeypatch):
    rows = [
        {"context": "Where can I buy molly?", "text": "Forget it. Who wrote the article?"},
        {"context": "Where can I buy molly?", "text": "And tonight?", "label": "illegal_supply"},
    ]
    (tmp_path / "intent_examples.jsonl").write_text(
        "".join(json.dumps({"label": "none"} | row) + "\n" for row in rows), encoding="utf-8"
    )
    squad = tmp_path / "squad.json"
    squad.write_text(json.dumps({"data": [{"paragraphs": [{"qas": []}]}]}))
    monkeypatch.setattr(intents, "DATA", tmp_path)
    monkeypatch.setattr(intents, "SQUAD_NONE", 0)
    # the runtime reads a message alone after a refused turn; an unsafe follow-up's meaning
    # after one is the patterns' to judge, so it is not trained on
    assert intents.examples(squad) == [("Forget it. Who wrote the article?", 0)]


def test_the_written_messages_are_found_and_the_untrained_ones_left_out():
    names = [path.name for path in intents.DATA.glob("intent_examples*.jsonl")]
    assert "intent_examples.jsonl" in names
    assert (intents.DATA / "not_trained" / "intent_examples_v6.jsonl").exists()
    assert not any(name.startswith("intent_examples_v6") for name in names)
