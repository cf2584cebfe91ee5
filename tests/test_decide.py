"""assistant/answerers.py and assistant/decide.py: any answerer's ranking becomes quotes, a
calibrated confidence and a status. Real sentences of the shipped corpus, hand-made features
and calibrators, a fake reader: no model or index needed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assistant.answer import FEATURES, SentenceScorer
from assistant.answerers import (
    ANSWERERS,
    Candidates,
    ReaderAnswerer,
    ScorerAnswerer,
    make_answerer,
    scorer_weights,
)
from assistant.config import ROOT
from assistant.corpus import load_corpus
from assistant.decide import (
    DECISION_FEATURES,
    Calibrator,
    Logistic,
    choose_quotes,
    decide,
    features,
    load_calibrators,
)
from assistant.reader import Calibration

NEEDLES = (
    "the analgesic effects for all 3 patients occurred",
    "which was banned in 1985",
    "To the outside world, Callie projected success.",
    "Positive Reframing",
)
N = len(DECISION_FEATURES)


@pytest.fixture(scope="module")
def sentences():
    return [s for d in load_corpus(ROOT / "corpus") for s in d.sentences]


@pytest.fixture(scope="module")
def scorer(sentences) -> SentenceScorer:
    return SentenceScorer(sentences)


def _candidates(sentences, question: str, rows=None) -> Candidates:
    found = tuple(next(s for s in sentences if n in s.text) for n in NEEDLES)
    if rows is None:
        rows = np.tile(np.float32([0.5, 0.3, 1.0, 0, 0, 0]), (len(found), 1))
    return Candidates(question, found, np.asarray(rows, dtype=np.float32))


def _logistic(weights=None, bias=0.0) -> Logistic:
    """From the answerer's top score alone, unless weights are given."""
    return Logistic(weights or (1.0,) + (0.0,) * (N - 1), bias, (0.0,) * N, (1.0,) * N)


def _calibrator(relevance_bias=0.0, **quotes) -> Calibrator:
    """Answers at confidence 0.8; relevance is the top score shifted by ``relevance_bias``."""
    return Calibrator(_logistic(), _logistic(bias=relevance_bias), 0.8, 0.5, **quotes)


def test_choose_quotes_keeps_the_close_ones_up_to_max_and_at_least_min():
    ranking = [(0, 9.0), (1, 8.5), (2, 8.0), (3, 2.0)]
    assert choose_quotes(ranking, _calibrator(keep_within=3.0, max_quotes=2)) == [0, 1]
    assert choose_quotes(ranking, _calibrator(keep_within=3.0, max_quotes=4)) == [0, 1, 2]
    far = [(0, 9.0), (1, 0.0)]
    assert choose_quotes(far, _calibrator(keep_within=1.0, min_quotes=2)) == [0, 1]
    assert choose_quotes(far, _calibrator(keep_within=1.0, min_quotes=1)) == [0]


def test_decide_answers_above_the_threshold_in_reading_order(sentences, scorer):
    candidates = _candidates(sentences, "What happened to MDMA?")
    ranking = [(0, 5.0), (1, 4.5), (3, -9.0)]  # 5.0 -> confidence 0.993
    found = decide(candidates, ranking, _calibrator(keep_within=1.0), scorer)
    assert found.status == "answered"
    assert found.confidence == pytest.approx(1 / (1 + np.exp(-5.0)))
    assert {s.text for s in found.sentences} == {candidates.sentences[i].text for i in (0, 1)}
    assert list(found.sentences) == sorted(found.sentences, key=lambda s: (s.doc_id, s.start))


def test_decide_says_not_directly_when_unsure_but_on_the_subject(sentences, scorer):
    candidates = _candidates(sentences, "What happened to MDMA?")
    ranking = [(2, 0.0), (0, -0.1), (1, -2.0)]  # confidence 0.5, relevance 0.88
    calibrator = _calibrator(relevance_bias=2.0, keep_within=1.0)
    found = decide(candidates, ranking, calibrator, scorer)
    assert found.status == "partial" and found.confidence == pytest.approx(0.5)
    # the quotes an answer would give: those within keep_within of the best
    assert {s.text for s in found.sentences} == {candidates.sentences[i].text for i in (2, 0)}


def test_decide_abstains_off_the_subject_and_names_a_word_the_corpus_never_uses(sentences, scorer):
    candidates = _candidates(sentences, "Does ketamine help Callie?")
    found = decide(candidates, [(0, 0.0), (1, -4.0)], _calibrator(relevance_bias=-2.0), scorer)
    assert (found.status, found.sentences) == ("abstained", ())
    assert "ketamine" in found.reason
    nothing = decide(candidates, [], _calibrator(), scorer)
    assert (nothing.status, nothing.confidence) == ("abstained", None)


def test_features_read_the_kind_of_answer_and_the_words_never_used(sentences, scorer):
    rows = np.float32([[0.6, 0.4, 1.0, 0, 0, 0], [0.7, 0.2, 0.5, 0, 0, 1]] + [[0] * 6] * 2)
    candidates = _candidates(sentences, "How many patients did ketamine help?", rows)
    x = dict(zip(DECISION_FEATURES, features(candidates, [(0, 2.0), (1, 1.5)], [0], scorer)))
    assert x["top"] == 2.0 and x["margin"] == 0.5
    assert x["top_similarity"] == pytest.approx(0.6) and x["max_similarity"] == pytest.approx(0.7)
    assert (x["type_found"], x["type_missing"]) == (0.0, 1.0)  # the best lacks the count
    assert x["type_quoted"] == 0.0 and x["finding"] == 0.0
    assert x["unknown_rare"] == 1.0 and x["unknown_share"] > 0
    assert x["missing"] == 0.0  # "all 3 patients" has the count asked for
    x = dict(zip(DECISION_FEATURES, features(candidates, [(0, 2.0), (1, 1.5)], [0, 1], scorer)))
    assert x["type_quoted"] == 1.0  # the second quote has it
    x = dict(zip(DECISION_FEATURES, features(candidates, [(1, 2.0), (0, 1.5)], [1], scorer)))
    assert (x["type_found"], x["type_missing"]) == (1.0, 0.0)


def test_a_logistic_standardises_then_weighs():
    logistic = Logistic((2.0,) + (0.0,) * (N - 1), -1.0, (1.0,) * N, (0.5,) * N)
    x = np.zeros(N)
    x[0] = 2.0  # (2 - 1) / 0.5 = 2 -> 2 * 2 - 1 = 3
    assert logistic(x) == pytest.approx(1 / (1 + np.exp(-3.0)))


def test_extreme_log_odds_give_0_or_1_without_overflow():
    logistic = _logistic()
    x = np.zeros(N)
    x[0] = -5000.0
    assert logistic(x) == pytest.approx(0.0)
    x[0] = 5000.0
    assert logistic(x) == pytest.approx(1.0)


def test_the_shipped_decision_loads_for_every_answerer():
    calibrators = load_calibrators()
    assert set(calibrators) == set(ANSWERERS)
    for calibrator in calibrators.values():
        assert 0.5 < calibrator.answer_at < 1.0 and calibrator.relevant_at == 0.5
        assert len(calibrator.confidence.weights) == len(calibrator.relevance.weights) == N


def test_a_decision_fitted_on_other_features_is_refused(tmp_path):
    path = tmp_path / "decision.json"
    model = {"weights": [1.0], "bias": 0, "mean": [0], "scale": [1]}
    entry = {"features": ["top"], "confidence": model, "relevance": model, "answer_at": 0.9}
    path.write_text(json.dumps({"answerers": {"scorer": entry}}))
    with pytest.raises(ValueError, match="refit"):
        load_calibrators.__wrapped__(path)


# --- answerers -----------------------------------------------------------------------------


def test_the_scorer_ranks_by_its_weighted_features(sentences):
    rows = np.zeros((4, len(FEATURES)), dtype=np.float32)
    rows[2, FEATURES.index("lexical")] = 1.0
    rows[1, FEATURES.index("similarity")] = 0.1
    ranking = ScorerAnswerer().rank(_candidates(sentences, "q", rows))
    assert [i for i, _ in ranking] == [2, 1, 0, 3]
    assert ranking[0][1] == pytest.approx(float(scorer_weights()[FEATURES.index("lexical")]))


class FakeReader:
    """Says the sentence mentioning 1985 answers; records what it was asked to read."""

    def __init__(self) -> None:
        self.read: list[str] = []

    def score(self, pairs):
        self.read += [s for _, s in pairs]
        return [0.95 if "1985" in s else 0.1 for _, s in pairs]


def test_the_reader_reads_the_scorers_best_few_and_ranks_them(sentences):
    rows = np.zeros((4, len(FEATURES)), dtype=np.float32)
    rows[:, FEATURES.index("lexical")] = [0.9, 0.8, 0.1, 0.0]
    model = FakeReader()
    ranking = ReaderAnswerer(model, Calibration(), keep=2).rank(_candidates(sentences, "q", rows))
    assert len(model.read) == 2 and "1985" in model.read[1]
    assert [i for i, _ in ranking] == [1, 0]
    assert ranking[0][1] > 0 > ranking[1][1]  # log-odds of 0.95 and 0.1


def test_answerers_are_chosen_by_name():
    assert make_answerer("scorer").name == "scorer"
    with pytest.raises(ValueError, match="unknown answerer"):
        make_answerer("oracle")
