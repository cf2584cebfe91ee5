"""`assistant eval`: run every case through the real chain, score it, gate on thresholds, and
optionally compare ablation variants, write a report, diff against a baseline, export RAGAS."""

from __future__ import annotations

import argparse
import json
import tomllib
from dataclasses import asdict
from pathlib import Path

from evals.cases import Case, load_cases
from evals.metrics import CaseResult, compute_metrics

THRESHOLDS = Path(__file__).resolve().parent / "thresholds.toml"

VARIANTS = {
    "full": {},
    "dense only": {"bm25": False, "names": False},
    "bm25 only": {"dense": False, "names": False},
    "no name index": {"names": False},
    "no condense": {"condense": False},
    "no sentence selection": {"select": False},
}


def run_case(assistant, retriever, case: Case, texts: dict[str, str]) -> CaseResult:
    """All turns of a case through the chain; the last reply is scored, every reply is scanned
    for dose figures."""
    from assistant import guardrails
    from assistant.chain import to_turn

    history = []
    leaks = 0
    reply = None
    for turn in case.turns:
        reply = assistant.reply(turn, history)
        history.append(to_turn(reply))
        body = reply.answer.replace(reply.disclaimer, "")
        leaks += len(guardrails.find_doses(body))
    out = reply.to_dict()
    ranked = []
    if case.expect == "answered":
        for doc in retriever.invoke(reply.standalone_question or reply.question):
            p = assistant.resources.library.passages[doc.id]
            ranked.append((p.doc_id, p.start, p.end))
    verbatim = [
        texts.get(s["document"], "")[s["start"] : s["end"]] == s["quote"] for s in out["sources"]
    ]
    return CaseResult(case, out, ranked, leaks, verbatim)


def run_suite(variant_name: str = "full", progress: bool = True) -> list[CaseResult]:
    """Every case through one variant of the chain."""
    from tqdm import tqdm

    from assistant.chain import Assistant, Variant

    variant = Variant(**VARIANTS[variant_name])
    assistant = Assistant(variant=variant)
    texts = assistant.resources.texts
    retriever = assistant.resources.retriever(variant).model_copy(update={"k": 8})
    cases = load_cases(texts)
    bar = tqdm(
        cases,
        desc=f"eval: {variant_name}",
        unit="case",
        disable=None if progress else True,
        leave=False,
    )
    return [run_case(assistant, retriever, case, texts) for case in bar]


def load_thresholds(path: Path = THRESHOLDS) -> dict[str, dict[str, float]]:
    with path.open("rb") as f:
        return tomllib.load(f)


def gate(metrics: dict, thresholds: dict) -> list[str]:
    """The metrics outside their thresholds, each as one line."""
    failures = []
    for name, floor in thresholds.get("min", {}).items():
        value = metrics.get(name)
        if value is None or value < floor:
            failures.append(f"{name} = {_fmt(name, value)} is below its threshold {floor}")
    for name, ceiling in thresholds.get("max", {}).items():
        value = metrics.get(name)
        if value is None or value > ceiling:
            failures.append(f"{name} = {_fmt(name, value)} is above its threshold {ceiling}")
    return failures


def _fmt(name: str, value) -> str:
    if value is None:
        return "n/a"
    if name.endswith("_ms") or name == "dose_leaks":
        return f"{value:.1f}"
    return f"{value:.3f}"


def metrics_table(columns: dict[str, dict]) -> str:
    """A Markdown table: one row per metric, one column per variant."""
    names = list(next(iter(columns.values())))
    head = "| metric | " + " | ".join(columns) + " |"
    rule = "|---|" + "---:|" * len(columns)
    rows = [
        f"| {n} | " + " | ".join(_fmt(n, c.get(n)) for c in columns.values()) + " |" for n in names
    ]
    return "\n".join([head, rule, *rows])


def flipped(results: list[CaseResult], baseline: Path) -> list[str]:
    """Cases whose correctness changed since a previous results.json."""
    before = {c["id"]: c["correct"] for c in json.loads(baseline.read_text())["cases"]}
    lines = []
    for r in results:
        if r.case.id in before and before[r.case.id] != r.correct:
            way = "now passes" if r.correct else "now FAILS"
            lines.append(f"{r.case.id} {way}: {r.case.turns[-1][:70]!r}")
    return lines


def export_ragas(results: list[CaseResult], path: Path, texts: dict[str, str], passages) -> None:
    """A RAGAS-style dataset: user_input, retrieved_contexts, response, reference."""
    with path.open("w", encoding="utf-8") as f:
        for r in results:
            contexts = [texts[d][s:e] for d, s, e in r.ranked_spans[:4]]
            row = {
                "id": r.case.id,
                "user_input": r.reply["standalone_question"] or r.case.turns[-1],
                "retrieved_contexts": contexts,
                "response": r.reply["answer"],
                "reference": " ".join(r.case.evidence),
            }
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def results_json(results: list[CaseResult], metrics: dict) -> dict:
    return {
        "metrics": metrics,
        "cases": [
            {
                "id": r.case.id,
                "category": r.case.category,
                "turns": list(r.case.turns),
                "expect": r.case.expect,
                "correct": r.correct,
                "evidence_cited": r.evidence_cited,
                "facts_found": r.facts_found,
                "gold_rank": r.first_gold_rank(),
                "reply": r.reply,
            }
            for r in results
        ],
    }


def main(args: argparse.Namespace) -> int:
    """Run the suite; print the metrics table; return 1 when the gate fails."""
    from assistant.config import DISCLAIMER
    from evals.cases import CaseError

    try:
        results = run_suite("full")
    except CaseError as error:
        print(f"Eval cases are malformed: {error}")
        return 1
    metrics = compute_metrics(results, DISCLAIMER)
    columns = {"full": metrics}
    by_variant = {"full": results}
    if getattr(args, "compare", False):
        for name in VARIANTS:
            if name != "full":
                by_variant[name] = run_suite(name)
                columns[name] = compute_metrics(by_variant[name], DISCLAIMER)
    print(f"{len(results)} cases")
    print(metrics_table(columns))
    failures = gate(metrics, load_thresholds())
    if getattr(args, "report", None):
        from evals.report import write_report

        write_report(Path(args.report), results, columns, by_variant, failures)
        print(f"Report written to {args.report}/report.md")
    if getattr(args, "export_ragas", None):
        from assistant.chain import get_resources
        from assistant.config import Settings

        res = get_resources(Settings())
        export_ragas(results, Path(args.export_ragas), res.texts, res.library.passages)
        print(f"RAGAS dataset written to {args.export_ragas}")
    if getattr(args, "baseline", None):
        changes = flipped(results, Path(args.baseline))
        print(f"{len(changes)} cases flipped since {args.baseline}")
        for line in changes:
            print("  " + line)
    if failures:
        print("Gate FAILED:")
        for line in failures:
            print("  " + line)
        return 1 if getattr(args, "gate", False) else 0
    print("Gate passed.")
    return 0


__all__ = ["main", "run_suite", "compute_metrics", "gate", "metrics_table", "asdict"]
