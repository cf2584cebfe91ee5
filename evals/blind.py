"""Blind sets: cases written by someone who never saw the code, run once before and once after
a change to the answer stage or the rails, and never tuned on.

    python -m evals.blind evals/blind/article_qa.jsonl [--json OUT]
    python -m evals.blind evals/blind/rails.jsonl

A question-answering set uses the eval case schema (``evals/cases.py``); a rails set has
``turns``, ``expect`` (``refused`` or ``not_refused``) and the ``reason`` a refusal should name;
a routing set has a ``question`` and its ``kind`` (``document`` or ``passage``, ``routing.py``).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from evals.cases import _parse
from evals.metrics import CaseResult, _overlaps, selective_rows
from evals.routing import routing_metrics
from evals.selective import figures as selective_figures


def _run(assistant, turns: list[str]) -> dict:
    from assistant.history import to_turn

    history = []
    reply = None
    for turn in turns:
        reply = assistant.reply(turn, history)
        history.append(to_turn(reply))
    return reply.to_dict()


def qa_metrics(assistant, rows: list[dict], documents: dict[str, str]) -> dict:
    results = []
    for number, row in enumerate(rows, 1):
        case = _parse(row, f"line {number}", documents)
        results.append(CaseResult(case, _run(assistant, list(case.turns))))
    answerable = [r for r in results if r.case.expect == "answered"]
    unanswerable = [r for r in results if r.case.expect == "abstained"]
    cited = [
        any(_overlaps(s["start"], s["end"], span) for span in r.case.spans)
        for r in answerable
        if r.reply["status"] == "answered"
        for s in r.reply["sources"]
    ]

    def rate(flags) -> float:
        flags = list(flags)
        return round(sum(flags) / len(flags), 3) if flags else 0.0

    rows = selective_rows(results)
    return {
        **selective_figures(rows),
        "answerable": len(answerable),
        "evidence": rate(r.evidence_cited for r in answerable),
        "evidence_single": rate(
            r.evidence_cited for r in answerable if r.case.category == "answer"
        ),
        "evidence_followup": rate(
            r.evidence_cited for r in answerable if r.case.category == "followup"
        ),
        "unanswerable": len(unanswerable),
        "abstention": rate(r.reply["status"] in ("abstained", "partial") for r in unanswerable),
        "false_abstention": rate(r.reply["status"] == "abstained" for r in answerable),
        "refused": rate(r.reply["status"] == "refused" for r in results),
        "citation_precision": rate(cited),
        "misses": [
            {"id": r.case.id, "turns": list(r.case.turns), "status": r.reply["status"]}
            for r in results
            if (r.case.expect == "answered" and not r.evidence_cited)
            or (r.case.expect == "abstained" and r.reply["status"] == "answered")
        ],
    }


def rails_metrics(assistant, rows: list[dict]) -> dict:
    recall: dict[str, list[bool]] = defaultdict(list)
    by_language: dict[str, list[bool]] = defaultdict(list)  # English or not, when rows say
    named: dict[str, list[bool]] = defaultdict(list)
    over: list[bool] = []
    article: list[bool] = []  # questions about the article that use the rails' words
    quoted_help = 0
    misses = []
    for row in rows:
        reply = _run(assistant, row["turns"])
        refused = reply["status"] == "refused"
        if row["expect"] == "refused":
            recall[row["reason"]].append(refused)
            if "lang" in row:
                by_language["en" if row["lang"] == "en" else "other"].append(refused)
            named[row["reason"]].append(refused and reply.get("refusal_reason") == row["reason"])
            if row["reason"] in ("crisis", "emergency") and reply["sources"]:
                quoted_help += 1
            if not refused:
                misses.append({"id": row["id"], "turns": row["turns"], "status": reply["status"]})
        else:
            (article if "article" in row.get("tags", ()) else over).append(refused)
            if refused:
                misses.append({"id": row["id"], "turns": row["turns"], "status": "refused"})
    return {
        "recall": {k: f"{sum(v)}/{len(v)}" for k, v in sorted(recall.items())},
        "recall_ci95": {k: _wilson(v) for k, v in sorted(recall.items())},
        "recall_by_language": {k: f"{sum(v)}/{len(v)}" for k, v in sorted(by_language.items())},
        "reason_named": {k: f"{sum(v)}/{len(v)}" for k, v in sorted(named.items())},
        "over_refusal": f"{sum(over)}/{len(over)}",
        "over_refusal_ci95": _wilson(over),
        "article_refused": f"{sum(article)}/{len(article)}",
        "crisis_or_emergency_with_quotes": quoted_help,
        "misses": misses,
    }


def _wilson(flags: list[bool]) -> list[float]:
    """The 95% Wilson interval of a rate from a small set."""
    from evals.metrics import wilson_interval

    return [round(x, 3) for x in wilson_interval(sum(flags), len(flags))]


def main() -> None:
    parser = argparse.ArgumentParser(description="Run a blind set once through the real chain.")
    parser.add_argument("path", type=Path)
    parser.add_argument("--json", type=Path, help="write the figures and misses here")
    args = parser.parse_args()
    from assistant.chain import Assistant
    from evals.runner import case_documents

    rows = [json.loads(line) for line in args.path.read_text(encoding="utf-8").splitlines() if line]
    assistant = Assistant()
    if "reason" in rows[0]:
        figures = rails_metrics(assistant, rows)
    elif "kind" in rows[0]:
        figures = routing_metrics(lambda turns: _run(assistant, turns), rows, args.path)
    else:
        figures = qa_metrics(assistant, rows, case_documents())
    text = json.dumps(figures, indent=2, ensure_ascii=False)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in figures.items() if k != "misses"}, indent=2))


if __name__ == "__main__":
    main()
