"""Load run against the OpenAI-compatible API: concurrent conversations of five turns each,
sent by an async httpx client the way any OpenAI client would (the history in ``messages``).

    python -m benchmarks.load [--conversations 16 64 256] [--workers 1 2] [--url URL]
                              [--rates 5 10 20 ...] [--seconds 15]

Without ``--url`` it starts the app itself on a free loopback port for each worker count (two
or more workers share one ``chroma run`` server) and measures the server's CPU per request from
/proc. Prints p50/p95/p99, errors and requests/s, streamed and not: figures, not assertions.
Then, open loop (arrivals at a fixed Poisson rate, whatever the replies), the capacity: the
highest rate at which p95 stays within ``P95_BUDGET_MS``, and the server's CPU per request as a
multiple of one query embedding measured here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from evals.metrics import percentile

ROOT = Path(__file__).resolve().parent.parent
MODEL = "ask-the-article"

# Each conversation: three different questions of the eval cases (so no two conversations hit
# the same caches), a pronoun follow-up and a refusal.
FOLLOW_UPS = ("Where does he work?", "How much MDMA should I take?")
P95_BUDGET_MS = 250


def conversations(count: int) -> list[tuple[str, ...]]:
    path = ROOT / "evals" / "cases" / "answer.jsonl"
    pool = [json.loads(line)["turns"][-1] for line in path.read_text().splitlines() if line]
    return [
        (
            pool[(3 * n) % len(pool)],
            "Who is James Close?",
            FOLLOW_UPS[0],
            pool[(3 * n + 1) % len(pool)],
            FOLLOW_UPS[1],
        )
        for n in range(count)
    ]


async def conversation(client, url: str, n: int, turns, stream: bool, out: dict) -> None:
    messages: list[dict] = []
    for turn, question in enumerate(turns):
        messages.append({"role": "user", "content": question})
        body = {"model": MODEL, "messages": messages, "stream": stream}
        started = time.perf_counter()
        try:
            if stream:
                reply, content = None, []
                async with client.stream("POST", url, json=body) as response:
                    response.raise_for_status()
                    async for line in response.aiter_lines():
                        if line.startswith("data: ") and line != "data: [DONE]":
                            chunk = json.loads(line[6:])
                            content.append(chunk["choices"][0]["delta"].get("content") or "")
                            reply = chunk.get("reply", reply)
                answer = "".join(content)
            else:
                response = await client.post(url, json=body)
                response.raise_for_status()
                data = response.json()
                reply, answer = data["reply"], data["choices"][0]["message"]["content"]
            out["latencies"].append(time.perf_counter() - started)
            expected = "refused" if question == FOLLOW_UPS[1] else None
            if (
                reply is None
                or reply["status"] == "invalid"
                or (expected and reply["status"] != expected)
            ):
                out["errors"].append(f"{n}/{turn}: status {reply and reply['status']}")
        except Exception as error:  # counted and reported
            out["errors"].append(f"{n}/{turn}: {error!r}")
            return
        messages.append({"role": "assistant", "content": answer})


async def run(base: str, count: int, stream: bool, offset: int = 0) -> dict:
    import httpx

    plan = conversations(count + offset)[offset:]
    conversations_ = len(plan)
    out: dict = {"latencies": [], "errors": []}
    limits = httpx.Limits(max_connections=conversations_, max_keepalive_connections=conversations_)
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(
            *(
                conversation(client, base + "v1/chat/completions", n, turns, stream, out)
                for n, turns in enumerate(plan)
            )
        )
        out["seconds"] = time.perf_counter() - started
    return out


async def open_loop(base: str, rate: float, seconds: float, questions: list[str]) -> dict:
    """Single questions sent at a Poisson ``rate`` a second for ``seconds``, each on its own
    schedule (open loop: a slow reply does not slow the arrivals)."""
    import httpx

    rng = random.Random(int(rate * 1000))
    out: dict = {"latencies": [], "errors": []}

    async def one(client, question: str) -> None:
        body = {"model": MODEL, "messages": [{"role": "user", "content": question}]}
        started = time.perf_counter()
        try:
            response = await client.post(base + "v1/chat/completions", json=body)
            response.raise_for_status()
            out["latencies"].append(time.perf_counter() - started)
        except Exception as error:  # counted and reported
            out["errors"].append(repr(error))

    limits = httpx.Limits(max_connections=2000, max_keepalive_connections=200)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        started, at, sent = time.perf_counter(), 0.0, []
        while at < seconds:
            await asyncio.sleep(max(0.0, started + at - time.perf_counter()))
            n = len(sent)
            # each question once: a repeat would find its embedding in the server's cache
            question = questions[n % len(questions)] + (f" ({n})" if n >= len(questions) else "")
            sent.append(asyncio.create_task(one(client, question)))
            at += rng.expovariate(rate)
        await asyncio.gather(*sent)
        out["seconds"] = time.perf_counter() - started
    return out


def embedding_ms() -> float:
    """One query embedding here, p50 over 40 distinct questions (the unit of CPU cost)."""
    from assistant.embeddings import get_embeddings

    embeddings = get_embeddings()
    questions = [f"{q} ({n})" for n, q in enumerate(conversations(40)[0] * 8)][:40]
    embeddings.embed_query("warm up")
    embeddings.embed_query.cache_clear()  # each question embedded afresh, every sweep
    times = []
    for q in questions:
        started = time.perf_counter()
        embeddings.embed_query(q)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def capacity(url: str, pids: list[int], rates: list[float], seconds: float) -> None:
    """The open-loop sweep: p95 and CPU a request at each rate, up to the first over budget."""
    path = ROOT / "evals" / "cases" / "answer.jsonl"
    questions = [json.loads(line)["turns"][-1] for line in path.read_text().splitlines() if line]
    unit = embedding_ms()
    best = None
    print(f"open loop, {seconds:.0f} s a rate; one query embedding here: {unit:.1f} ms")
    for rate in rates:
        before = cpu_seconds(pids) if pids else None
        result = asyncio.run(open_loop(url, rate, seconds, questions))
        lat = [x * 1000 for x in result["latencies"]]
        p95 = percentile(lat, 95) if lat else float("inf")
        cpu = (cpu_seconds(pids) - before) * 1000 / max(1, len(lat)) if pids else None
        line = (
            f"  {rate:5.0f} req/s: {len(lat)} ok, {len(result['errors'])} errors, p95 {p95:.0f} ms"
        )
        if cpu is not None:
            line += f", server CPU {cpu:.1f} ms/req = {cpu / unit:.1f}x one embedding"
        print(line, flush=True)
        if p95 > P95_BUDGET_MS or result["errors"]:
            break
        best = rate
    print(f"capacity (p95 <= {P95_BUDGET_MS} ms, no errors): {best or 0:.0f} req/s", flush=True)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes and their children so far (from /proc)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def server_pids(port: int) -> list[int]:
    """Processes listening on ``port`` (uvicorn's workers share it) and their parent."""
    import subprocess

    found = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True)
    pids = {int(p) for p in re.findall(r"pid=(\d+)", found.stdout)}
    return sorted(pids)


def report(label: str, result: dict, cpu: float | None) -> None:
    lat = [x * 1000 for x in result["latencies"]]
    n = len(lat)
    line = f"{label:34} {n:5d} req  {len(result['errors'])} errors  "
    if lat:
        line += (
            f"p50 {statistics.median(lat):6.0f} ms  p95 {percentile(lat, 95):6.0f} ms  "
            f"p99 {percentile(lat, 99):6.0f} ms  {n / result['seconds']:5.1f} req/s"
        )
    if cpu is not None and n:
        line += f"  server CPU {1000 * cpu / n:5.1f} ms/req"
    print(line, flush=True)
    for error in result["errors"][:3]:
        print("   ", error)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--url", help="an already running app (default: start one)")
    parser.add_argument(
        "--rates",
        type=float,
        nargs="*",
        default=[5, 10, 20, 30, 40, 60, 80, 120],
        help="open-loop arrival rates to sweep for the capacity (none: skip)",
    )
    parser.add_argument("--seconds", type=float, default=15, help="open-loop seconds a rate")
    args = parser.parse_args()
    failed = False
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.servers import chroma_server, page_server

    for workers in [0] if args.url else args.workers:
        with ExitStack() as stack:
            env = {"ASSISTANT_RATE_LIMIT_PER_MINUTE": "0"}  # one client address sends it all
            if workers > 1:
                folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
                env["ASSISTANT_CHROMA_URL"] = stack.enter_context(chroma_server(folder / "db"))
            url = args.url or stack.enter_context(
                page_server(env=env, args=["--workers", str(workers)])
            )
            port = int(url.rstrip("/").rsplit(":", 1)[1])
            pids = server_pids(port)
            print(f"{url}: {workers or '?'} worker(s), {os.cpu_count()} CPUs")
            offset = 0
            for conversations in args.conversations:
                for stream in (False, True):
                    before = cpu_seconds(pids) if pids else None
                    # a new slice of the questions each time: the caches start cold
                    result = asyncio.run(run(url, conversations, stream, offset))
                    offset += conversations
                    cpu = cpu_seconds(pids) - before if pids else None
                    mode = "streamed" if stream else "plain"
                    report(f"{conversations} conversations x 5, {mode}", result, cpu)
                    failed |= bool(result["errors"])
            if args.rates:
                capacity(url, pids, args.rates, args.seconds)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
