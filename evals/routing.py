"""A blind set of routing questions (``evals/blind/document_questions.jsonl``): each row asks
either about the document as a whole (``kind = document``) or something a passage answers
(``kind = passage``). Reads the route each reply records and whether a document question got
the right evidence (``document_questions.expect.toml``, by topic)."""

from __future__ import annotations

import tomllib
from collections import defaultdict
from pathlib import Path


def _expectations(path: Path) -> dict:
    expect = path.with_name(path.stem + ".expect.toml")
    with expect.open("rb") as handle:
        return tomllib.load(handle)["topics"]


def right_evidence(reply: dict, expect: dict) -> bool:
    """Whether a reply to a document question holds what its topic asks for."""
    if expect.get("abstain"):
        return reply["status"] in ("abstained", "partial") and not reply["sources"]
    if reply["status"] not in ("answered", "partial"):
        return False
    sources = reply["sources"]
    if any(q in s["quote"] for s in sources for q in expect.get("quotes", ())):
        return True
    section = expect.get("section")
    if section and any(section in s["section"] for s in sources):
        return True
    return len({s["section"] for s in sources}) >= expect.get("min_sections", 10**6)


def routing_metrics(run, rows: list[dict], path: Path, route_of=None) -> dict:
    """``run(turns) -> reply dict``; ``route_of(reply) -> route`` (default: the reply's own)."""
    route_of = route_of or (lambda reply: reply.get("route"))
    topics = _expectations(path)
    routed: dict[str, list[bool]] = defaultdict(list)
    evidence: dict[str, list[bool]] = defaultdict(list)
    misses = []
    for row in rows:
        reply = run([row["question"]])
        route = route_of(reply)
        if row["kind"] == "document":
            ok = route == "document"
            good = right_evidence(reply, topics[row["topic"]])
            evidence[row["topic"]].append(good)
            evidence["all"].append(good)
        else:
            ok = route == "retrieval"
            good = ok
        routed[row["kind"]].append(ok)
        if not (ok and good):
            misses.append(
                {
                    "id": row["id"],
                    "question": row["question"],
                    "topic": row.get("topic"),
                    "route": route,
                    "status": reply["status"],
                    "quotes": [s["quote"][:80] for s in reply["sources"][:3]],
                }
            )
    return {
        "routed_right": {k: f"{sum(v)}/{len(v)}" for k, v in sorted(routed.items())},
        "document_evidence": {k: f"{sum(v)}/{len(v)}" for k, v in sorted(evidence.items())},
        "misses": misses,
    }
