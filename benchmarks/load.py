"""Load run: concurrent gradio_client users against the page's ``/ask`` endpoint.

    python -m benchmarks.load [--clients 32] [--url http://127.0.0.1:7860/]

Without ``--url`` it starts the page itself on a free port of 127.0.0.1 and stops it after.
Each client is its own conversation (a follow-up among its questions). Prints latency
percentiles and throughput, a figure not an assertion; exits 1 if any request failed.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Five turns of one conversation: a cited answer, a pronoun follow-up, ellipsis, a refusal.
CONVERSATION = (
    "What did Close et al. find?",
    "Where does he work?",
    "How long is an MDMA session?",
    "and psilocybin?",
    "How much MDMA should I take?",
)
EXPECTED = ("answered", "answered", "answered", "answered", "refused")
REPLY_KEYS = {"question", "standalone_question", "status", "answer", "sources", "disclaimer"}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def run(url: str, clients: int, questions: tuple[str, ...]) -> dict:
    """Run ``clients`` concurrent conversations; latencies (s) and the errors seen."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    from gradio_client import Client

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start_together = threading.Barrier(clients)

    def user(n: int) -> None:
        try:
            client = Client(
                url, verbose=False, analytics_enabled=False, httpx_kwargs={"timeout": 120}
            )
        except Exception as exc:  # counted, reported below
            with lock:
                errors.append(f"client {n}: connect: {exc!r}")
            return
        start_together.wait()
        for i, question in enumerate(questions):
            started = time.perf_counter()
            try:
                reply = client.predict(question, api_name="/ask")
            except Exception as exc:
                with lock:
                    errors.append(f"client {n} q{i}: {exc!r}")
                continue
            elapsed = time.perf_counter() - started
            problem = None
            if not isinstance(reply, dict) or not set(reply) >= REPLY_KEYS:
                problem = f"bad reply {reply!r:.80}"
            elif questions is CONVERSATION and reply["status"] != EXPECTED[i]:
                problem = f"status {reply['status']} for {question!r}"
            with lock:
                latencies.append(elapsed)
                if problem:
                    errors.append(f"client {n} q{i}: {problem}")

    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(user, range(clients)))
    wall = time.perf_counter() - started
    return {
        "latencies": latencies,
        "errors": errors,
        "wall": wall,
        "client_cpu": time.process_time() - cpu,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--url", help="a running page (default: start one on a free port)")
    parser.add_argument("--concurrency", type=int, help="the started page's turns at once")
    args = parser.parse_args(argv)

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    app = importlib.import_module("app")
    extra = ["--concurrency", str(args.concurrency)] if args.concurrency else []
    server = nullcontext(args.url) if args.url else app.spawn(args=extra)
    print("Starting the page…" if not args.url else f"Using {args.url}", flush=True)
    with server as url:
        result = run(url, args.clients, CONVERSATION)

    latencies = [t * 1000 for t in result["latencies"]]
    total = args.clients * len(CONVERSATION)
    print(f"{args.clients} clients × {len(CONVERSATION)} questions = {total} requests")
    print(f"completed {len(latencies)}, errors {len(result['errors'])}")
    if latencies:
        print(
            f"latency p50 {percentile(latencies, 50):.0f} ms · p95 {percentile(latencies, 95):.0f} ms"
            f" · max {max(latencies):.0f} ms · mean {statistics.fmean(latencies):.0f} ms"
        )
        print(f"wall {result['wall']:.1f} s · {len(latencies) / result['wall']:.1f} requests/s")
        print(
            f"client-side CPU {1000 * result['client_cpu'] / len(latencies):.0f} ms a request "
            "(gradio_client polls; on a small machine the clients, not the page, are the limit)"
        )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load} (other work skews the figures)")
    for error in result["errors"][:10]:
        print("  error:", error)
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
