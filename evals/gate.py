"""The gate: metrics checked against ``[min]`` / ``[max]`` bounds of a thresholds file."""

from __future__ import annotations

import tomllib
from pathlib import Path

from evals.tables import fmt

THRESHOLDS = Path(__file__).resolve().parent / "thresholds.toml"


def load_thresholds(path: Path = THRESHOLDS) -> dict[str, dict[str, float]]:
    """The gate: ``[min]`` and ``[max]`` tables of metric name -> bound."""
    with path.open("rb") as f:
        return tomllib.load(f)


def gate(metrics: dict, thresholds: dict) -> list[str]:
    """The metrics outside their thresholds, each as one line naming the metric."""
    failures = []
    for name, floor in thresholds.get("min", {}).items():
        value = metrics.get(name)
        if value is None:
            failures.append(f"{name} was not measured (threshold >= {floor})")
        elif value < floor:
            failures.append(f"{name} = {fmt(name, value)} is below its threshold {floor}")
    for name, ceiling in thresholds.get("max", {}).items():
        value = metrics.get(name)
        if value is None:
            failures.append(f"{name} was not measured (threshold <= {ceiling})")
        elif value > ceiling:
            failures.append(f"{name} = {fmt(name, value)} is above its threshold {ceiling}")
    return failures
