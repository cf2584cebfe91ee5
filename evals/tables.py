"""The metrics and per-category scores as Markdown tables (printed by the runner, written into
the report)."""

from __future__ import annotations

from evals.metrics import CaseResult, per_category


def fmt(name: str, value) -> str:
    if value is None:
        return "n/a"
    if name.endswith("_ms") or name == "dose_leaks":
        return f"{value:.1f}"
    return f"{value:.3f}"


def bound(name: str, thresholds: dict | None) -> str:
    """The gate of one metric as text (">= 0.97", "<= 0"), or "" when it is not gated."""
    thresholds = thresholds or {}
    if name in thresholds.get("min", {}):
        return f">= {thresholds['min'][name]}"
    if name in thresholds.get("max", {}):
        return f"<= {thresholds['max'][name]}"
    return ""


def metrics_table(columns: dict[str, dict], thresholds: dict | None = None) -> str:
    """A Markdown table: one row per metric, one column per variant (and the gate, if given)."""
    names = list(next(iter(columns.values())))
    gated = thresholds is not None
    head = "| metric | " + " | ".join(columns) + (" | gate |" if gated else " |")
    rule = "|---|" + "---:|" * len(columns) + ("---|" if gated else "")
    rows = []
    for n in names:
        cells = [fmt(n, c.get(n)) for c in columns.values()]
        if gated:
            cells.append(bound(n, thresholds))
        rows.append(f"| {n} | " + " | ".join(cells) + " |")
    return "\n".join([head, rule, *rows])


def category_table(by_variant: dict[str, list[CaseResult]]) -> str:
    """A Markdown table: share of correct cases per category, one column per variant."""
    scores = {name: per_category(results) for name, results in by_variant.items()}
    full = next(iter(by_variant.values()))
    counts = {c: sum(r.case.category == c for r in full) for c in next(iter(scores.values()))}
    head = "| category | cases | " + " | ".join(by_variant) + " |"
    rule = "|---|---:|" + "---:|" * len(by_variant)
    rows = [
        f"| {c} | {n} | " + " | ".join(f"{s[c]:.3f}" for s in scores.values()) + " |"
        for c, n in counts.items()
    ]
    return "\n".join([head, rule, *rows])
