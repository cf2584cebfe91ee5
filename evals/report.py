"""The eval report of `assistant eval --report DIR`: report.md for people, results.json and
cases.jsonl for tools (and `--baseline`), PNG plots made with matplotlib (no display needed)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from evals.metrics import RECALL_KS, CaseResult, per_category, percentile

STAGES = ("guard_in", "condense", "retrieve", "answer", "guard_out")
FULL_COLOUR = "#1f3b73"
COLOURS = ("#e07a1f", "#3a9d5d", "#c0392b", "#8e5ea2", "#7f8c8d", "#d4a017")


# --- what went wrong --------------------------------------------------------------------------


def problems(r: CaseResult) -> list[str]:
    """Why a case fails, in words; empty when it passes."""
    why = []
    if not r.status_ok:
        why.append("wrong status")
    elif r.case.expect == "answered":
        if not r.evidence_cited:
            why.append("gold evidence not cited")
        missing = [f for f in r.case.facts if f.lower() not in r.reply["answer"].lower()]
        if missing:
            why.append("facts missing: " + ", ".join(repr(f) for f in missing))
    if r.leaks:
        why.append(f"{r.leaks} dose figure(s) leaked")
    if not all(r.verbatim):
        why.append("a quote is not verbatim article text")
    elif not all(r.offsets_exact):
        why.append("a quote's offsets do not point at it")
    return why


# --- machine-readable -------------------------------------------------------------------------


def case_row(r: CaseResult) -> dict:
    """One case and its reply, as results.json and cases.jsonl store it."""
    return {
        "id": r.case.id,
        "category": r.case.category,
        "turns": list(r.case.turns),
        "expect": r.case.expect,
        "evidence": list(r.case.evidence),
        "facts": list(r.case.facts),
        "correct": r.correct,
        "problems": problems(r),
        "evidence_cited": r.evidence_cited,
        "facts_found": r.facts_found,
        "gold_rank": r.first_gold_rank(),
        "dose_leaks": r.leaks,
        "reply": r.reply,
    }


def results_json(
    by_variant: dict[str, list[CaseResult]],
    columns: dict[str, dict],
    failures: Sequence[str] = (),
    thresholds: dict | None = None,
) -> dict:
    """The whole run: the full chain's metrics and cases, every variant's metrics, the gate."""
    full = next(iter(by_variant))
    return {
        "run": _run_info(),
        "metrics": columns[full],
        "variants": columns,
        "per_category": {name: per_category(rs) for name, rs in by_variant.items()},
        "thresholds": thresholds or {},
        "gate_failures": list(failures),
        "cases": [case_row(r) for r in by_variant[full]],
    }


def _dump(obj) -> str:
    # ensure_ascii: bad-input replies can carry lone surrogates, which UTF-8 cannot encode
    return json.dumps(obj, ensure_ascii=True)


def _run_info() -> dict:
    info = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "commit": ""}
    try:
        root = Path(__file__).resolve().parent.parent
        git = ["git", "-C", str(root)]
        sha = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True)
        if sha.returncode == 0:
            info["commit"] = sha.stdout.strip() + (" (+ local changes)" if dirty.stdout else "")
    except OSError:
        pass
    return info


# --- plots ------------------------------------------------------------------------------------


def _figure(width: float, height: float):
    from matplotlib.figure import Figure  # no pyplot: no display, no global state (Agg canvas)

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    return fig


def _colours(names) -> dict[str, str]:
    """One colour per variant, the same in every plot; the full chain is the dark one."""
    others = iter(COLOURS * 2)
    return {n: FULL_COLOUR if n == "full" else next(others) for n in names}


def plot_categories(by_variant: dict[str, list[CaseResult]], path: Path) -> Path:
    """Share of correct cases per category: a group of bars per category, one per variant."""
    scores = {name: per_category(rs) for name, rs in by_variant.items()}
    full = next(iter(by_variant.values()))
    categories = list(next(iter(scores.values())))
    counts = {c: sum(r.case.category == c for r in full) for c in categories}
    colours = _colours(by_variant)
    n = len(by_variant)
    width = 0.84 / n
    fig = _figure(max(6.5, 1.2 + len(categories) * (0.45 + 0.17 * n)), 4.6)
    ax = fig.add_subplot()
    for i, (name, s) in enumerate(scores.items()):
        xs = [k - 0.42 + width * (i + 0.5) for k in range(len(categories))]
        values = [s[c] for c in categories]
        ax.bar(xs, values, width=width * 0.92, color=colours[name], label=name)
        if name == "full":
            for x, v in zip(xs, values):
                ax.text(x, v + 0.015, f"{v:.0%}", ha="center", fontsize=8, color=FULL_COLOUR,
                        fontweight="bold")  # fmt: skip
    ax.set_xticks(range(len(categories)))
    ax.set_xticklabels([f"{c}\n({counts[c]} cases)" for c in categories], fontsize=9)
    ax.set_ylim(0, 1.09)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.yaxis.set_major_formatter("{x:.0%}")
    ax.set_ylabel("cases correct")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.set_title(
        "Eval score per category\n(right status; answers also cite the gold evidence "
        "and state every must-have fact)",
        fontsize=10,
    )
    if n > 1:
        fig.legend(loc="outside lower center", ncol=min(n, 6), fontsize=8, frameon=False)
    fig.savefig(path)
    return path


def plot_recall(columns: dict[str, dict], path: Path) -> Path:
    """Recall@k of the gold evidence for each retrieval variant; variants whose curve equals
    another's share its line."""
    curves: dict[tuple, list[str]] = {}
    for name, m in columns.items():
        key = tuple(m.get(f"recall@{k}") for k in RECALL_KS)
        if None not in key:
            curves.setdefault(key, []).append(name)
    colours = _colours(columns)
    fig = _figure(7, 4.6)
    ax = fig.add_subplot()
    for values, names in curves.items():
        mrr = columns[names[0]].get("mrr") or 0.0
        label = " = ".join(names) + f"  (MRR {mrr:.2f})"
        style = {"linewidth": 2.6, "zorder": 3} if "full" in names else {"linewidth": 1.6}
        colour = colours["full" if "full" in names else names[0]]
        ax.plot(RECALL_KS, values, marker="o", color=colour, label=label, **style)
    if len(curves) == 1:
        for k, v in zip(RECALL_KS, next(iter(curves))):
            ax.annotate(f"{v:.2f}", (k, v), textcoords="offset points", xytext=(0, -14),
                        ha="center", fontsize=8)  # fmt: skip
    ax.set_xscale("log", base=2)
    ax.set_xticks(RECALL_KS)
    ax.set_xticklabels([str(k) for k in RECALL_KS])
    low = min(min(v) for v in curves) if curves else 0.0
    ax.set_ylim(max(0.0, low - 0.08), 1.01)
    ax.yaxis.set_major_formatter("{x:.0%}")
    ax.set_xlabel("k (passages retrieved)")
    ax.set_ylabel("answerable cases with gold evidence in top k")
    ax.set_title("Retrieval recall@k of the gold evidence")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.savefig(path)
    return path


def plot_latency(results: Sequence[CaseResult], path: Path) -> Path:
    """Left: histogram of the whole-turn latency (log scale); right: p50 and p95 per stage."""
    import numpy as np

    totals = [r.reply["timings_ms"]["total"] for r in results if "total" in r.reply["timings_ms"]]
    fig = _figure(10, 4)
    left, right = fig.subplots(1, 2, width_ratios=(3, 2))
    if totals:
        lo, hi = max(min(totals), 0.01), max(max(totals), 0.02)
        left.hist(totals, bins=np.geomspace(lo, hi * 1.001, 30), color=FULL_COLOUR, alpha=0.85)
        left.set_xscale("log")
        for q, style in ((50, "--"), (95, ":")):
            v = percentile(totals, q)
            left.axvline(v, color="#c0392b", linestyle=style, label=f"p{q} {v:,.0f} ms")
        left.legend(fontsize=8)
    left.set_xlabel("whole turn (ms, log scale)")
    left.set_ylabel("replies")
    left.set_title(f"Latency per reply ({len(totals)} cases, last turn)")
    stages = [s for s in STAGES if any(s in r.reply["timings_ms"] for r in results)]
    p50, p95 = [], []
    for s in stages:
        values = [r.reply["timings_ms"][s] for r in results if s in r.reply["timings_ms"]]
        p50.append(max(percentile(values, 50), 0.01))  # log axis: 0 ms drawn as 0.01
        p95.append(max(percentile(values, 95), 0.01))
    ys = np.arange(len(stages))[::-1]
    right.barh(ys + 0.2, p50, height=0.38, color=FULL_COLOUR, label="p50")
    right.barh(ys - 0.2, p95, height=0.38, color="#e07a1f", label="p95")
    right.set_yticks(ys)
    right.set_yticklabels(stages)
    right.set_xscale("log")
    right.set_xlabel("ms (log scale)")
    right.set_title("Per stage (turns that reached it)")
    right.legend(fontsize=8, loc="lower right")
    for ax in (left, right):
        ax.grid(axis="x", alpha=0.3, which="both")
        ax.set_axisbelow(True)
    fig.suptitle("Latency on this machine (not gated)", fontsize=10)
    fig.savefig(path)
    return path


# --- report.md --------------------------------------------------------------------------------


def _cell(text: str, limit: int = 90) -> str:
    text = " ".join(str(text).split())
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("|", "\\|")


def _quote(text: str, limit: int = 400) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def failing_cases_md(results: Sequence[CaseResult]) -> str:
    """The failing cases: a summary table, then each one's turns, expectation and reply."""
    failing = [(r, problems(r)) for r in results]
    failing = [(r, why) for r, why in failing if why]
    if not failing:
        return "None: every case passes.\n"
    lines = [
        "| id | category | question | expected | got | why |",
        "|---|---|---|---|---|---|",
    ]
    for r, why in failing:
        lines.append(
            f"| [{r.case.id}](#{r.case.id}) | {r.case.category} | {_cell(r.case.turns[-1], 60)} "
            f"| {r.case.expect} | {r.reply['status']} | {_cell('; '.join(why), 80)} |"
        )
    for r, why in failing:
        lines += ["", f'<a id="{r.case.id}"></a>', f"### {r.case.id} ({r.case.category})", ""]
        if len(r.case.turns) > 1:
            lines.append("- **turns:**")
            lines += [f"  {i}. {_quote(t, 200)!r}" for i, t in enumerate(r.case.turns, 1)]
        else:
            lines.append(f"- **question:** {_quote(r.case.turns[-1], 200)!r}")
        if r.reply["standalone_question"] not in ("", r.reply["question"]):
            lines.append(f"- **understood as:** {_quote(r.reply['standalone_question'], 200)!r}")
        lines.append(f"- **expected:** {r.case.expect}")
        for evidence in r.case.evidence:
            lines.append(f"  - gold evidence: “{_quote(evidence, 300)}”")
        if r.case.facts:
            lines.append("  - facts: " + ", ".join(repr(f) for f in r.case.facts))
        gold = r.first_gold_rank()
        if r.case.expect == "answered":
            lines.append(f"  - gold evidence retrieved at rank: {gold or 'not in top 8'}")
        lines.append(f"- **got:** {r.reply['status']} — {'; '.join(why)}")
        if r.reply["sources"]:
            lines.append("- **cited quotes:**")
            for s in r.reply["sources"]:
                lines.append(
                    f"  - [{s['id']}] chars {s['start']}–{s['end']}: “{_quote(s['quote'])}”"
                )
        else:
            body = r.reply["answer"].replace(r.reply.get("disclaimer", ""), "").strip()
            lines.append(f"- **reply:** {_quote(body, 300)!r}")
    return "\n".join(lines) + "\n"


def latency_table(metrics: dict) -> str:
    rows = ["| stage | p50 ms | p95 ms |", "|---|---:|---:|"]
    for stage in (*STAGES, "total"):
        p50 = metrics.get("latency_p50_ms" if stage == "total" else f"{stage}_p50_ms")
        p95 = metrics.get("latency_p95_ms" if stage == "total" else f"{stage}_p95_ms")
        if p50 is not None:
            rows.append(f"| {stage} | {p50:.1f} | {p95 or 0.0:.1f} |")
    return "\n".join(rows)


def report_md(
    by_variant: dict[str, list[CaseResult]],
    columns: dict[str, dict],
    failures: Sequence[str],
    thresholds: dict,
    plots: dict[str, Path],
) -> str:
    """The human report: gate verdict, metrics, per-category scores, plots, failing cases."""
    from evals.tables import category_table, metrics_table

    full = next(iter(by_variant))
    results = by_variant[full]
    info = _run_info()
    failing = sum(bool(problems(r)) for r in results)
    out = [
        "# Eval report",
        "",
        f"{info['date']} · commit {info['commit'] or 'unknown'} · {len(results)} cases · "
        f"variants: {', '.join(by_variant)}",
        "",
    ]
    if failures:
        out += ["**Gate: FAILED**", ""] + [f"- {line}" for line in failures] + [""]
    else:
        out += ["**Gate: passed** (every gated metric within evals/thresholds.toml)", ""]
    out += [
        "## Metrics",
        "",
        "Rates are 0–1; the `gate` column is the threshold `make test` enforces on the full "
        "chain. What each metric means: evals/README.md.",
        "",
        metrics_table(columns, thresholds),
        "",
        "## Score per category",
        "",
        "A case is correct when its last reply has the expected status and, for answers, cites "
        "the gold evidence and contains every must-have fact.",
        "",
        category_table(by_variant),
        "",
        f"![score per category]({plots['categories'].name})",
        "",
        "## Selective answering",
        "",
        f"![risk-coverage]({plots['risk_coverage'].name}) "
        f"![reliability]({plots['reliability'].name})",
        "",
        "## Retrieval",
        "",
        f"![recall@k]({plots['recall'].name})",
        "",
        "## Latency (full chain, not gated)",
        "",
        latency_table(columns[full]),
        "",
        f"![latency]({plots['latency'].name})",
        "",
        f"## Failing cases ({failing} of {len(results)}, full chain)",
        "",
        failing_cases_md(results),
    ]
    return "\n".join(out)


def selective_plots(by_variant: dict[str, list[CaseResult]], out_dir: Path) -> dict[str, Path]:
    """The risk-coverage curve and the reliability diagram of each answerer's confidence."""
    from evals.metrics import selective_rows
    from evals.selective_plots import plot_reliability, plot_risk_coverage

    shown = [n for n in by_variant if n in ("full", "scorer", "reader")]
    curves = {n: selective_rows(by_variant[n]) for n in shown}
    return {
        "risk_coverage": plot_risk_coverage(curves, out_dir / "risk_coverage.png"),
        "reliability": plot_reliability(curves, out_dir / "reliability.png"),
    }


def write_report(
    out_dir: Path,
    by_variant: dict[str, list[CaseResult]],
    columns: dict[str, dict],
    failures: Sequence[str] = (),
    thresholds: dict | None = None,
) -> list[Path]:
    """Write report.md, results.json, cases.jsonl and the PNG plots into ``out_dir``; return
    the paths written. ``by_variant`` starts with the full chain."""
    out_dir.mkdir(parents=True, exist_ok=True)
    full = by_variant[next(iter(by_variant))]
    plots = {
        "categories": plot_categories(by_variant, out_dir / "category_scores.png"),
        "recall": plot_recall(columns, out_dir / "recall_at_k.png"),
        "latency": plot_latency(full, out_dir / "latency.png"),
        **selective_plots(by_variant, out_dir),
    }
    results_path = out_dir / "results.json"
    results_path.write_text(
        _dump(results_json(by_variant, columns, failures, thresholds)), encoding="utf-8"
    )
    cases_path = out_dir / "cases.jsonl"
    cases_path.write_text("".join(_dump(case_row(r)) + "\n" for r in full), encoding="utf-8")
    report_path = out_dir / "report.md"
    text = report_md(by_variant, columns, failures, thresholds or {}, plots)
    # backslashreplace: a lone surrogate from a bad-input case is shown, not a crash
    report_path.write_text(text, encoding="utf-8", errors="backslashreplace")
    return [report_path, results_path, cases_path, *plots.values()]
