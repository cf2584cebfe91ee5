"""The selective-QA plots: the risk-coverage curve and the reliability diagram of the reply's
confidence (``evals/selective.py`` computes the numbers they draw)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from evals.selective import Row, calibration_bins, risk_coverage


def _figure(width: float, height: float):
    from matplotlib.figure import Figure  # no pyplot: no display, no global state

    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def _finish(fig, ax, path: Path, xlabel: str, ylabel: str, title: str, legend: str) -> Path:
    """Labels, grid and legend, then the file."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc=legend)
    fig.savefig(path)
    return path


def plot_risk_coverage(curves: dict[str, Sequence[Row]], path: Path) -> Path:
    """Selective accuracy against coverage, answering in order of confidence, one line per
    named set of rows; the 90% line and each set's operating point (its answered replies)."""
    fig = _figure(7, 4.6)
    ax = fig.add_subplot()
    for name, rows in curves.items():
        points = risk_coverage(rows)
        if not points:
            continue
        line = ax.plot([c for c, _ in points], [a for _, a in points], label=name, linewidth=2)
        answered = [r for r in rows if r.status == "answered"]
        if answered:
            at = (len(answered) / len(rows), sum(r.holds for r in answered) / len(answered))
            ax.plot(*at, "o", color=line[0].get_color(), markersize=7)
    ax.axhline(0.9, color="grey", linestyle="--", linewidth=1, label="90% selective accuracy")
    ax.set_xlim(0, 1.01)
    ax.set_ylim(0, 1.02)
    ax.xaxis.set_major_formatter("{x:.0%}")
    ax.yaxis.set_major_formatter("{x:.0%}")
    return _finish(
        fig,
        ax,
        path,
        "coverage (questions answered, most confident first)",
        "answered replies whose quotes hold the answer",
        "Risk-coverage (dots: where the thresholds answer)",
        "lower left",
    )


def plot_reliability(curves: dict[str, Sequence[Row]], path: Path) -> Path:
    """Share of replies whose quotes hold the answer against the mean confidence, per tenth."""
    fig = _figure(5.2, 4.6)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="calibrated")
    for name, rows in curves.items():
        bins = calibration_bins(rows)
        if bins:
            ax.plot(
                [c for c, _, _ in bins],
                [a for _, a, _ in bins],
                marker="o",
                label=name,
                linewidth=2,
            )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    return _finish(
        fig,
        ax,
        path,
        "confidence (mean of the bin)",
        "quotes hold the answer",
        "Reliability of the confidence",
        "upper left",
    )
