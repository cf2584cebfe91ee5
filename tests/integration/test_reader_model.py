"""The shipped reader (models/reader) under ONNX Runtime, and the chain answering with it."""

from __future__ import annotations

import pytest

from assistant.reader import reader


@pytest.fixture(scope="module")
def shipped():
    found = reader()
    assert found is not None, "models/reader/reader.onnx is missing"
    return found


def test_the_reader_prefers_the_sentence_that_answers(shipped):
    model, _ = shipped
    question = "Where does James Close work?"
    answering = "James Close works at the Centre for Psychedelic Research, Imperial College London."
    other = "MDMA-assisted therapy involves a 6- or 7-hour dosing session."
    good, bad = model.score([(question, answering), (question, other)])
    assert good > 0.5 > bad


def test_the_calibration_ships_with_the_model(shipped):
    _, calibration = shipped
    assert len(calibration.weights) == 7 and calibration.bias


def test_the_chain_answers_and_abstains_with_the_reader(settings):
    from assistant.chain import Assistant, Variant
    from assistant.decide import load_calibrators

    assistant = Assistant(settings, Variant(answerer="reader"))
    answered = assistant.reply("Where does James Close work?")
    assert answered.status == "answered" and 1 <= len(answered.sources) <= 3
    assert answered.confidence >= load_calibrators()["reader"].answer_at
    assert any("Imperial College London" in s.quote for s in answered.sources)
    assert assistant.reply("How do I bake sourdough bread?").status == "abstained"
