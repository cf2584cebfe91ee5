"""`assistant eval`: run every case through the real chain, score it, gate on thresholds, and
optionally compare ablation variants, write a report, diff against a baseline, export RAGAS."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from assistant.config import Settings
from evals.cases import Case, CaseError, load_case_file, load_cases
from evals.gate import THRESHOLDS, gate, load_thresholds
from evals.metrics import CaseResult, check_quotes, compute_metrics
from evals.tables import category_table, metrics_table

VARIANTS = {
    "full": {},
    "dense only": {"bm25": False, "names": False},
    "bm25 only": {"dense": False, "names": False},
    "no name index": {"names": False},
    "no condense": {"condense": False},
    "no sentence selection": {"select": False},
    "scorer": {"answerer": "scorer"},
    "reader": {"answerer": "reader"},
}
RANKED_K = 8  # retrieval is re-run at this depth to score recall@1..8 and MRR
# A corpus folder run with --corpus holds its documents, its cases and its gate.
CORPUS_CASES = "cases.jsonl"
CORPUS_THRESHOLDS = "thresholds.toml"


def case_documents(corpus_dir: Path | None = None) -> dict[str, str]:
    """The corpus texts the cases quote, read straight from the corpus folder (no model, no
    index), so a schema check starts instantly."""
    from assistant.config import Settings
    from assistant.corpus import corpus_files, read_text

    folder = corpus_dir or Settings().corpus_dir
    return {path.stem: read_text(path) for path in corpus_files(folder)}


def run_case(assistant, retriever, case: Case, texts: dict[str, str]) -> CaseResult:
    """All turns of a case through the chain; the last reply is scored, every reply is scanned
    for dose figures."""
    from assistant import rails

    history: tuple = ()
    leaks = 0
    reply = None
    for turn in case.turns:
        reply, history = assistant.turn(turn, history)
        leaks += len(rails.find_doses(reply.answer))
    out = reply.to_dict()
    ranked = []
    if case.expect == "answered" or out["status"] in ("answered", "abstained"):
        for doc in retriever.invoke(reply.standalone_question or reply.question):
            p = assistant.resources.library.passages[doc.id]
            ranked.append((p.doc_id, p.start, p.end))
    verbatim, exact = check_quotes(out["sources"], texts)
    return CaseResult(case, out, ranked, leaks, verbatim, exact)


def _warm_up(assistant) -> None:
    """One-time costs (the guard's anchor embeddings, the first Chroma and BM25 queries) paid
    before the clock runs, so latency percentiles describe a warm process."""
    from assistant import rails

    rails.embedding_scores("warm-up", assistant.resources.embeddings.embed_many)
    assistant.reply(assistant.profile.examples[0])


def corpus_settings(corpus: Path):
    """Settings for another corpus folder: its own index beside the default one."""
    from assistant.config import Settings

    default = Settings()
    return default.replace(corpus_dir=corpus, index_dir=default.index_dir / "corpora" / corpus.name)


def run_suite(
    variant_names: tuple[str, ...] | list[str] = ("full",),
    progress: bool = True,
    corpus: Path | None = None,
) -> dict[str, list[CaseResult]]:
    """Every case through each named variant of the chain: the suite in evals/cases/, or, for a
    ``corpus`` folder, the cases in its ``cases.jsonl``. Cases are the outer loop, so the
    variants share the query-embedding cache and an ablation run costs little more than one."""
    from tqdm import tqdm

    from assistant.chain import Assistant, Variant

    settings = corpus_settings(corpus) if corpus else None
    # malformed cases fail here, before the model loads
    if corpus:
        cases = load_case_file(corpus / CORPUS_CASES, case_documents(corpus))
    else:
        cases = load_cases(case_documents())
    assistants = {n: Assistant(settings, variant=Variant(**VARIANTS[n])) for n in variant_names}
    resources = next(iter(assistants.values())).resources
    texts = resources.texts
    retrievers = {
        n: resources.retriever(Variant(**VARIANTS[n])).model_copy(update={"k": RANKED_K})
        for n in variant_names
    }
    _warm_up(next(iter(assistants.values())))
    label = "eval" if len(variant_names) == 1 else f"eval x{len(variant_names)} variants"
    # disable=None: a bar on a terminal, silence in CI logs (not a TTY)
    bar = tqdm(cases, desc=label, unit="case", disable=None if progress else True, leave=False)
    results: dict[str, list[CaseResult]] = {n: [] for n in variant_names}
    for case in bar:
        for name in variant_names:
            results[name].append(run_case(assistants[name], retrievers[name], case, texts))
    return results


def flipped(results: list[CaseResult], baseline: Path) -> list[str]:
    """Cases whose correctness changed since a previous results.json, with the status change."""
    before = {c["id"]: c for c in json.loads(baseline.read_text(encoding="utf-8"))["cases"]}
    lines = []
    for r in results:
        old = before.get(r.case.id)
        if old is None or old["correct"] == r.correct:
            continue
        way = "now passes" if r.correct else "now FAILS"
        was = old.get("reply", {}).get("status", "?")
        lines.append(
            f"{r.case.id} {way} ({was} -> {r.reply['status']}, expected {r.case.expect}): "
            f"{r.case.turns[-1][:70]!r}"
        )
    return lines


def export_ragas(results: list[CaseResult], path: Path, texts: dict[str, str]) -> None:
    """A RAGAS-style dataset, one JSON object per line: user_input, retrieved_contexts (the top
    passages retrieval ranked), response (the reply's text), reference (the gold evidence)."""
    with path.open("w", encoding="utf-8") as f:
        for r in results:
            row = {
                "id": r.case.id,
                "category": r.case.category,
                "user_input": r.reply["standalone_question"] or r.case.turns[-1],
                "retrieved_contexts": [texts[d][s:e] for d, s, e in r.ranked_spans[:4]],
                "response": r.reply["answer"],
                "reference": " ".join(r.case.evidence),
            }
            # ensure_ascii: bad-input cases carry lone surrogates, which UTF-8 cannot encode
            f.write(json.dumps(row, ensure_ascii=True) + "\n")


def _quiet_when_not_a_tty() -> None:
    """In CI logs (stderr not a terminal) the model loader's progress bar is noise; ours
    (tqdm, disable=None) already turns itself off there."""
    if not sys.stderr.isatty():
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def main(args: argparse.Namespace) -> int:
    """Run the suite; print the metrics table; return 1 when --gate is set and the gate fails."""
    from assistant.profile import corpus_profile

    _quiet_when_not_a_tty()
    if getattr(args, "squad", None):
        return squad_main(args)
    corpus = Path(args.corpus) if getattr(args, "corpus", None) else None
    compare = getattr(args, "compare", False)
    names = list(VARIANTS) if compare else ["full"]
    started = time.perf_counter()
    try:
        by_variant = run_suite(names, corpus=corpus)
    except CaseError as error:
        print(f"Eval cases are malformed: {error}")
        return 1
    elapsed = time.perf_counter() - started
    results = by_variant["full"]
    disclaimer = corpus_profile(corpus or Settings().corpus_dir).disclaimer
    columns = {name: compute_metrics(rs, disclaimer) for name, rs in by_variant.items()}
    for name in names[1:]:
        # the variants run after the full chain on each case and reuse its cached query
        # embeddings, so their timings are not comparable: shown as n/a
        columns[name] = {k: v for k, v in columns[name].items() if not k.endswith("_ms")}
    thresholds = load_thresholds(corpus / CORPUS_THRESHOLDS if corpus else THRESHOLDS)
    failures = gate(columns["full"], thresholds)
    print(f"{len(results)} cases x {len(names)} variant(s) in {elapsed:.0f} s")
    print(metrics_table(columns, thresholds))
    print()
    print(category_table(by_variant))
    print()
    code = 0
    if getattr(args, "report", None):
        from evals.report import write_report

        out = Path(args.report)
        written = write_report(out, by_variant, columns, failures, thresholds)
        print(f"Report written to {(out / 'report.md').resolve()}")
        print("  also: " + ", ".join(p.name for p in written if p.name != "report.md"))
    if getattr(args, "export_ragas", None):
        export_ragas(results, Path(args.export_ragas), case_documents(corpus))
        print(f"RAGAS dataset written to {args.export_ragas}")
    if getattr(args, "baseline", None):
        try:
            changes = flipped(results, Path(args.baseline))
        except (OSError, ValueError, KeyError) as error:
            print(f"Cannot read the baseline {args.baseline}: {error!r}")
            code = 2
        else:
            print(f"{len(changes)} cases flipped since {args.baseline}")
            for line in changes:
                print("  " + line)
    if failures:
        print("Gate FAILED:")
        for line in failures:
            print("  " + line)
        return 1 if getattr(args, "gate", False) else code
    print("Gate passed.")
    return code


def squad_main(args: argparse.Namespace) -> int:
    """`assistant eval --squad FILE`: the SQuAD benchmark, gated by [squad.min] / [squad.max]."""
    from evals.squad import run

    started = time.perf_counter()
    columns = run(Path(args.squad), args.articles, args.per_article, args.compare)
    thresholds = load_thresholds().get("squad", {})
    failures = gate(columns["full"], thresholds)
    print(f"{args.squad}: {columns['full']['questions']} questions")
    print(f"in {time.perf_counter() - started:.0f} s")
    print(metrics_table(columns, thresholds))
    if failures:
        print("Gate FAILED:")
        for line in failures:
            print("  " + line)
        return 1 if getattr(args, "gate", False) else 0
    print("Gate passed.")
    return 0


__all__ = [
    "main",
    "run_suite",
    "run_case",
    "compute_metrics",
    "gate",
    "metrics_table",
    "category_table",
    "flipped",
    "export_ragas",
]
