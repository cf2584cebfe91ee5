"""Scale benchmark for the index, on the embedded store and on a ``chroma run`` server.

    python -m benchmarks.bench_scale [--sizes 1000 10000 100000] [--queries 200]

Prints embedding throughput on 1,000 real passages, dense query latency (p50/p95) at each size,
BM25 index memory at each size, peak RSS, and the time of a no-change ``assistant index``.

The data, labelled in the output:
- real passages: windows of 1-7 consecutive sentences of the article, in reading order and in a
  fixed shuffled order (1,000 distinct texts), embedded with the bundled MiniLM;
- beyond 1,000 passages, synthetic vectors: a real passage vector plus Gaussian noise,
  renormalised (so they cluster like real text does), each stored with a text of 1-5 article
  sentences drawn at random; BM25 is built over those texts;
- queries: the first question of every case in evals/cases/answer.jsonl, embedded with the model.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np

from assistant.config import ROOT, Settings, apply_offline_env
from assistant.corpus import load_document
from assistant.embeddings import BATCH, get_embeddings, passage_embeddings
from assistant.index import (
    PASSAGES,
    chroma_client,
    ensure_index,
    open_collection,
)
from assistant.types import Passage
from tests.servers import chroma_server

REAL = 1000
SEED = 0
# noise per component: a synthetic vector lies about 0.6 (L2) from the real vector it copies
NOISE = 0.03


def article_sentences() -> list[str]:
    return [s.text for s in load_document(ROOT / "corpus" / "article.md").sentences]


def real_passages(sentences: list[str], n: int = REAL) -> list[str]:
    """Windows of 1-7 consecutive sentences, in reading order then in a fixed shuffled order."""
    shuffled = list(np.random.default_rng(SEED).permutation(sentences))
    texts: dict[str, None] = {}
    for order, sizes in ((sentences, range(1, 8)), (shuffled, range(2, 8))):
        for size in sizes:
            for start in range(len(order) - size + 1):
                texts[" ".join(order[start : start + size])] = None
    if len(texts) < n:
        raise SystemExit(f"only {len(texts)} real passages can be made from the article")
    return list(texts)[:n]


def recombined_passages(sentences: list[str], n: int) -> list[str]:
    """Texts of 1-5 article sentences drawn at random (for BM25 and the synthetic records)."""
    rng = np.random.default_rng(SEED + 1)
    return [
        " ".join(sentences[i] for i in rng.choice(len(sentences), rng.integers(1, 6)))
        for _ in range(n)
    ]


def synthetic_vectors(real: np.ndarray, n: int) -> np.ndarray:
    rng = np.random.default_rng(SEED + 2)
    vectors = real[rng.integers(0, len(real), n)] + rng.normal(0, NOISE, (n, real.shape[1]))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def eval_questions() -> list[str]:
    path = ROOT / "evals" / "cases" / "answer.jsonl"
    return [json.loads(line)["turns"][0] for line in path.read_text().splitlines() if line]


def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    from evals.metrics import percentile

    return percentile(samples_ms, 50), percentile(samples_ms, 95)


def timed_queries(search, queries: np.ndarray, count: int) -> tuple[float, float]:
    for q in queries[:20]:  # warm the index and caches
        search(q)
    samples = []
    for i in range(count):
        q = queries[i % len(queries)]
        started = time.perf_counter()
        search(q)
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


def bm25_memory(texts: list[str]) -> tuple[int, float]:
    """Bytes the bm25s index keeps (score matrix arrays + vocabulary), and build seconds."""
    from assistant.retrieval import BM25Index

    passages = [Passage(f"b:{i}", "bench", t, 0, len(t), "", i) for i, t in enumerate(texts)]
    started = time.perf_counter()
    bm25 = BM25Index(passages)
    seconds = time.perf_counter() - started
    model = bm25._model
    arrays = sum(v.nbytes for v in model.scores.values() if isinstance(v, np.ndarray))
    vocab = sys.getsizeof(model.vocab_dict) + sum(sys.getsizeof(k) for k in model.vocab_dict)
    return arrays + vocab, seconds


def store_rss_mb(port: str) -> float | None:
    """Peak RSS (VmHWM) of the ``chroma run`` process listening on ``port``."""
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            if b"run" in cmdline and port.encode() in cmdline and b"--path" in cmdline:
                for line in (proc / "status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            continue
    return None


def no_change_rerun(settings: Settings, runs: int = 3) -> float:
    """Median wall time of ``assistant index`` in a fresh process when nothing changed."""
    ensure_index(settings)
    command = [str(Path(sys.executable).with_name("assistant"))]
    if settings.chroma_url:
        command += ["--chroma-url", settings.chroma_url]
    command += ["--corpus-dir", str(settings.corpus_dir), "--index-dir", str(settings.index_dir)]
    env = {**os.environ, "ASSISTANT_COLLECTION": settings.collection}
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        out = subprocess.run([*command, "index"], env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        if "up to date" not in out.stdout:
            raise SystemExit(f"a no-change re-run did work: {out.stdout}{out.stderr}")
    return statistics.median(times)


def bench_store(
    store: str,
    root: Path,
    sizes: list[int],
    vectors: np.ndarray,
    texts: list[str],
    queries: np.ndarray,
    count: int,
    embed_seconds: float,
) -> dict:
    from assistant.embeddings import as_langchain
    from assistant.index.library import _snapshot_store

    server = chroma_server(root / "server") if store == "server" else nullcontext("")
    with server as url:
        settings = Settings().replace(
            corpus_dir=root / "corpus",
            index_dir=root / f"{store}-index",
            chroma_url=url,
            collection="bench_scale",
        )
        client = chroma_client(settings)
        collection = open_collection(client, settings, PASSAGES)
        write_batch = min(client.get_max_batch_size(), 5000)

        def add(lo: int, hi: int) -> float:
            started = time.perf_counter()
            for i in range(lo, hi, write_batch):
                j = min(i + write_batch, hi)
                collection.add(
                    ids=[f"b:{k}" for k in range(i, j)],
                    embeddings=vectors[i:j],
                    documents=texts[i:j],
                    metadatas=[{"hash": "h"} for _ in range(i, j)],
                )
            return time.perf_counter() - started

        result: dict = {"store": store, "sizes": {}}
        write_seconds = add(0, REAL)
        result["index_rate"] = REAL / (embed_seconds + write_seconds)
        result["write_rate"] = REAL / write_seconds
        held = REAL
        for size in sizes:
            load_seconds = add(held, size) if size > held else 0.0
            held = max(held, size)
            hashes = {f"b:{k}": "h" for k in range(held)}
            dense = _snapshot_store(client, collection.name, as_langchain(get_embeddings()), hashes)

            def raw(q):
                return collection.query(query_embeddings=[q], n_results=10, include=[])

            def product(q, dense=dense):
                return dense.similarity_search_by_vector_with_relevance_scores(q.tolist(), k=10)

            result["sizes"][size] = {
                "load_s": load_seconds,
                "raw": timed_queries(raw, queries, count),
                "product": timed_queries(product, queries, count),
            }
        result["rerun_s"] = no_change_rerun(
            settings.replace(collection="bench_rerun", corpus_dir=root / "corpus")
        )
        result["server_rss_mb"] = store_rss_mb(url.rsplit(":", 1)[1]) if url else None
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200, help="timed queries per size")
    parser.add_argument("--stores", nargs="+", default=["embedded", "server"])
    args = parser.parse_args(argv)
    apply_offline_env()
    sizes = sorted(args.sizes)

    sentences = article_sentences()
    real = real_passages(sentences)
    extra = recombined_passages(sentences, max(sizes) - REAL) if max(sizes) > REAL else []
    model = passage_embeddings()  # what the index is built with
    model.embed_documents(real[:BATCH])  # load and warm the model before timing
    started = time.perf_counter()
    real_vectors = np.asarray(model.embed_documents(real), dtype=np.float32)
    embed_seconds = time.perf_counter() - started
    vectors = np.vstack([real_vectors, synthetic_vectors(real_vectors, len(extra))])
    texts = real + extra
    queries = get_embeddings().embed_many(eval_questions())

    print("Scale benchmark (assistant index)")
    print(f"  machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    print(
        f"  data: {REAL} real passages (windows of 1-7 article sentences); above {REAL}, "
        f"synthetic vectors (real + noise) with texts of 1-5 random article sentences"
    )
    print(f"  queries: {len(queries)} eval questions (real), {args.queries} timed per size, k=10")
    print()
    print(
        f"Embedding throughput (MiniLM, CPU, batch {BATCH}): "
        f"{REAL / embed_seconds:.1f} passages/s ({REAL} real passages in {embed_seconds:.1f} s)"
    )

    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        root = Path(tmp)
        (root / "corpus").mkdir()
        shutil.copy(ROOT / "corpus" / "article.md", root / "corpus" / "article.md")
        results = [
            bench_store(store, root, sizes, vectors, texts, queries, args.queries, embed_seconds)
            for store in args.stores
        ]

    for r in results:
        print()
        print(f"{r['store'].capitalize()} store")
        print(
            f"  index throughput (embed + upsert), {REAL} real passages: "
            f"{r['index_rate']:.1f} passages/s (upsert alone {r['write_rate']:.0f}/s)"
        )
        print(
            "  passages  vectors                     load s  chroma p50/p95 ms  product p50/p95 ms"
        )
        for size, s in r["sizes"].items():
            data = "real" if size <= REAL else f"{REAL} real + {size - REAL} synthetic"
            print(
                f"  {size:>8}  {data:<26} {s['load_s']:>6.1f}  "
                f"{s['raw'][0]:>7.2f} / {s['raw'][1]:<7.2f}  "
                f"{s['product'][0]:>7.2f} / {s['product'][1]:<7.2f}"
            )
        print(f"  no-change `assistant index` re-run: {r['rerun_s']:.2f} s (median of 3)")
        if r["server_rss_mb"]:
            print(f"  chroma run peak RSS: {r['server_rss_mb']:.0f} MB")

    print()
    print("BM25 (bm25s) index memory: score matrix arrays + vocabulary")
    for size in sizes:
        memory, seconds = bm25_memory(texts[:size])
        print(f"  {size:>8} passages: {memory / 2**20:8.1f} MB  (built in {seconds:.1f} s)")

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print()
    print(f"Peak RSS of this process (model, vectors, BM25, embedded Chroma): {peak:.0f} MB")

    print()
    print("Targets")
    embedded = next((r for r in results if r["store"] == "embedded"), None)
    if embedded and max(sizes) >= 100_000:
        p50 = embedded["sizes"][max(sizes)]["product"][0]
        verdict = "met" if p50 <= 50 else "MISSED"
        print(f"  query p50 at {max(sizes)} passages, embedded <= 50 ms: {p50:.2f} ms ({verdict})")
    for r in results:
        verdict = "met" if r["rerun_s"] <= 2 else "MISSED"
        print(f"  no-change re-run, {r['store']} <= 2 s: {r['rerun_s']:.2f} s ({verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
