"""Selective question answering: how often the assistant answers, and how often an answer it
gives is right. Plain code over (answered?, right?, confidence) rows, no judge.

A row is one reply to a question that is not refused: ``answered`` when its status is
``answered``; ``right`` when its quotes hold the answer (an unanswerable question is never
answered rightly); ``confidence`` the reply's calibrated confidence, when it has one. The curves (coverage at 90%,
AURC, ECE) read the rows that have one; ``coverage`` and the status shares read every row. An
abstained reply shows no quotes, so it never holds the answer.

- coverage: answered / all; selective accuracy: right / answered;
- coverage at 90% selective accuracy: the largest share of questions that, answered in order of
  confidence, keeps nine in ten answers right;
- AURC: the area under the risk-coverage curve (risk = 1 - selective accuracy), lower is better;
- ECE: expected calibration error of the confidence against "the quotes hold the answer", in
  ten equal-width bins (Guo et al., 2017).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

STATUSES = ("answered", "partial", "abstained")


@dataclass(frozen=True)
class Row:
    status: str
    answerable: bool
    holds: bool  # the reply's quotes hold the answer (False for an unanswerable question)
    confidence: float | None = None


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def risk_coverage(rows: Sequence[Row]) -> list[tuple[float, float]]:
    """(coverage, selective accuracy) when the k most confident replies are answered, k = 1..n;
    ties in confidence enter together."""
    ranked = sorted((r for r in rows if r.confidence is not None), key=lambda r: -r.confidence)
    points, right = [], 0
    for k, row in enumerate(ranked, 1):
        right += row.holds
        if k == len(ranked) or ranked[k].confidence != row.confidence:
            points.append((k / len(ranked), right / k))
    return points


def coverage_at(rows: Sequence[Row], accuracy: float = 0.9) -> float | None:
    points = risk_coverage(rows)
    if not points:
        return None
    return max((c for c, a in points if a >= accuracy), default=0.0)


def aurc(rows: Sequence[Row]) -> float | None:
    """Mean risk over the coverage levels, each question added in order of confidence (ties
    enter together: each of them counts the risk of the whole tied group)."""
    ranked = sorted((r for r in rows if r.confidence is not None), key=lambda r: -r.confidence)
    if not ranked:
        return None
    total, right, start = 0.0, 0, 0
    for k, row in enumerate(ranked, 1):
        right += row.holds
        if k == len(ranked) or ranked[k].confidence != row.confidence:
            total += (k - start) * (1 - right / k)
            start = k
    return total / len(ranked)


def calibration_bins(rows: Sequence[Row], bins: int = 10) -> list[tuple[float, float, int]]:
    """(mean confidence, share right, count) per equal-width confidence bin that has rows."""
    out = []
    scored = [r for r in rows if r.confidence is not None]
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [
            r for r in scored if lo <= r.confidence < hi or (b == bins - 1 and r.confidence == 1)
        ]
        if inside:
            confidence = sum(r.confidence for r in inside) / len(inside)
            out.append((confidence, sum(r.holds for r in inside) / len(inside), len(inside)))
    return out


def ece(rows: Sequence[Row], bins: int = 10) -> float | None:
    found = calibration_bins(rows, bins)
    total = sum(n for _, _, n in found)
    if not total:
        return None
    return sum(n * abs(c - a) for c, a, n in found) / total


def figures(rows: Sequence[Row]) -> dict:
    """The selective-QA figures of a set of replies (refusals left out by the caller)."""
    answered = [r for r in rows if r.status == "answered"]
    answerable = [r for r in rows if r.answerable]
    unanswerable = [r for r in rows if not r.answerable]
    shares = Counter(r.status for r in rows)

    def rate(part, whole) -> float | None:
        return _round(len(part) / len(whole)) if whole else None

    out = {
        "questions": len(rows),
        "coverage": rate(answered, rows),
        "selective_accuracy": rate([r for r in answered if r.holds], answered),
        "answerable_answered": rate([r for r in answerable if r.status == "answered"], answerable),
        "unanswerable_answered": rate(
            [r for r in unanswerable if r.status == "answered"], unanswerable
        ),
        "coverage_at_90": _round(coverage_at(rows)),
        "aurc": _round(aurc(rows)),
        "ece": _round(ece(rows)),
    }
    for status in (*STATUSES, *sorted(set(shares) - set(STATUSES))):
        out[f"share_{status}"] = rate([r for r in rows if r.status == status], rows)
    return out
