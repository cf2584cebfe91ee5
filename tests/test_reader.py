"""The reader (assistant/reader/): its sentence probability, the calibration file, and the
SQuAD pairs it is trained on (training/pairs.py). The ONNX model itself is checked in
tests/integration/test_reader_model.py."""

from __future__ import annotations

import json

import numpy as np

from assistant.reader import Calibration
from training.pairs import read_squad, training_pairs


def test_the_learned_probability_weighs_the_reader_beside_the_features():
    # the feature columns can outweigh the reader: a sentence the reader likes less but that
    # shares the question's words wins
    calibration = Calibration(weights=(1.0, 0, 10.0, 0, 0, 0, 0), bias=-3.0)
    matrix = np.array([[0.2, 0.0, 1, 0, 0, 0], [0.2, 0.9, 1, 0, 0, 0]], dtype=np.float32)
    first, second = calibration.probabilities([0.9, 0.6], matrix)
    assert second > 0.5 > first
    assert Calibration().probabilities([0.9, 0.6], matrix) == [0.9, 0.6]


def test_calibration_round_trips_through_its_file(tmp_path):
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps({"weights": [1, 2], "bias": 0.5}))
    c = Calibration.load(path)
    assert c.weights == (1, 2) and c.bias == 0.5
    assert Calibration.load(tmp_path / "missing.json") == Calibration()


SQUAD = {
    "data": [
        {
            "title": "Bees",
            "paragraphs": [
                {
                    "context": "Bees make honey. A hive holds one queen. Drones do not sting.",
                    "qas": [
                        {
                            "question": "How many queens does a hive hold?",
                            "answers": [{"text": "one queen", "answer_start": 28}],
                            "is_impossible": False,
                        },
                        {
                            "question": "What colour is the queen?",
                            "answers": [],
                            "plausible_answers": [{"text": "one queen", "answer_start": 28}],
                            "is_impossible": True,
                        },
                    ],
                }
            ],
        }
    ]
}


def test_squad_questions_know_which_sentence_holds_the_answer(tmp_path):
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(SQUAD))
    answerable, impossible = read_squad(path)
    assert answerable.sentences[1] == "A hive holds one queen."
    assert answerable.answers == {1} and impossible.answers == frozenset()
    assert impossible.plausible == {1}


def test_training_pairs_have_a_positive_and_hard_negatives(tmp_path):
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(SQUAD))
    pairs = training_pairs(read_squad(path))
    positives = [p for p in pairs if p.label == 1.0]
    assert [p.sentence for p in positives] == ["A hive holds one queen."]
    impossible = [p for p in pairs if p.question.startswith("What colour")]
    assert impossible and all(p.label == 0.0 for p in impossible)
    assert "A hive holds one queen." in {p.sentence for p in impossible}  # the plausible one
