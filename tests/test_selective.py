"""evals/selective.py: coverage, selective accuracy, coverage at 90%, AURC and ECE, by hand."""

from __future__ import annotations

import pytest

from evals.selective import Row, aurc, calibration_bins, coverage_at, ece, figures, risk_coverage


def rows():
    # confidence high to low: right, right, wrong, right; statuses as a 0.7 threshold gives
    return [
        Row("answered", True, True, 0.95),
        Row("answered", True, True, 0.85),
        Row("partial", False, False, 0.6),
        Row("abstained", True, True, 0.2),
    ]


def test_coverage_and_selective_accuracy_follow_the_status():
    found = figures(rows())
    assert found["coverage"] == 0.5
    assert found["selective_accuracy"] == 1.0
    assert found["answerable_answered"] == pytest.approx(0.667)
    assert found["unanswerable_answered"] == 0.0
    assert (found["share_answered"], found["share_partial"], found["share_abstained"]) == (
        0.5,
        0.25,
        0.25,
    )


def test_the_risk_coverage_curve_answers_the_most_confident_first():
    assert risk_coverage(rows()) == [(0.25, 1.0), (0.5, 1.0), (0.75, 2 / 3), (1.0, 0.75)]
    assert coverage_at(rows(), 0.9) == 0.5
    assert coverage_at(rows(), 0.7) == 1.0
    # risks 0, 0, 1/3, 1/4
    assert aurc(rows()) == pytest.approx((0 + 0 + 1 / 3 + 1 / 4) / 4)


def test_ties_in_confidence_enter_together():
    tied = [Row("answered", True, True, 0.5), Row("answered", True, False, 0.5)]
    assert risk_coverage(tied) == [(1.0, 0.5)]
    assert coverage_at(tied, 0.9) == 0.0
    assert aurc(tied) == aurc(tied[::-1]) == 0.5


def test_ece_weighs_each_bin_by_its_replies():
    found = [Row("answered", True, True, 0.95), Row("answered", True, False, 0.91)]
    assert calibration_bins(found) == [(pytest.approx(0.93), 0.5, 2)]
    assert ece(found) == pytest.approx(0.43)
    assert ece([Row("answered", True, True, 1.0)]) == 0.0


def test_replies_without_a_confidence_have_no_curve():
    found = figures([Row("answered", True, True), Row("abstained", False, False)])
    assert found["coverage"] == 0.5
    assert found["coverage_at_90"] is None and found["aurc"] is None and found["ece"] is None
