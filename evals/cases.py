"""Eval cases: JSONL files in evals/cases/, one per category, checked against one schema."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from assistant.rails.registry import REASONS

CASES_DIR = Path(__file__).resolve().parent / "cases"
CATEGORIES = {
    "answer": "answered",
    "followup": "answered",
    "abstain": "abstained",
    "refuse": "refused",
    "dosing_adjacent": "answered",
    "bad_input": "invalid",
    "rails": "refused",  # or not_refused: a safe look-alike of the rail named in `reason`
    "smalltalk": "smalltalk",  # a greeting, thanks, "what can you do?": answered, no quotes
}
STATUSES = {"answered", "abstained", "refused", "invalid", "not_refused", "smalltalk"}


@dataclass(frozen=True)
class Case:
    """One eval case: the user's turns, the expected status of the last reply, the gold evidence
    (verbatim spans of the document) and the facts a right answer must contain."""

    id: str
    category: str
    turns: tuple[str, ...]
    expect: str
    evidence: tuple[str, ...] = ()
    facts: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    document: str = "article"
    standalone: str = ""
    reason: str = ""  # rails cases: the rail the case tests
    spans: tuple[tuple[int, int], ...] = field(default=(), compare=False)


class CaseError(ValueError):
    """A case file that breaks the schema; the message names the file, line and problem."""


def _parse(obj: dict, where: str, documents: dict[str, str]) -> Case:
    def fail(problem: str) -> CaseError:
        return CaseError(f"{where}: {problem}")

    for key in ("id", "category", "expect"):
        if not isinstance(obj.get(key), str) or not obj[key]:
            raise fail(f"'{key}' must be a non-empty string")
    if obj["category"] not in CATEGORIES:
        raise fail(f"unknown category {obj['category']!r}")
    if obj["expect"] not in STATUSES:
        raise fail(f"unknown expect {obj['expect']!r}")
    if obj["category"] == "rails" and obj.get("reason") not in REASONS:
        raise fail(f"a rails case needs a reason in {sorted(REASONS)}")
    turns = obj.get("turns", [])
    if "repeat" in obj:
        turns = [*turns, obj["repeat"]["text"] * int(obj["repeat"]["times"])]
    if not isinstance(turns, list) or not turns or not all(isinstance(t, str) for t in turns):
        raise fail("'turns' must be a non-empty list of strings (or give 'repeat')")
    document = obj.get("document") or _document_of(obj.get("evidence", []), documents)
    text = documents.get(document)
    if text is None:
        raise fail(f"unknown document {document!r}")
    spans = []
    for evidence in obj.get("evidence", []):
        start = text.find(evidence)
        if start < 0:
            raise fail(f"evidence is not verbatim in {document}: {evidence[:60]!r}")
        spans.append((start, start + len(evidence)))
    for fact in obj.get("facts", []):
        if not any(fact.lower() in e.lower() for e in obj.get("evidence", [])):
            raise fail(f"fact {fact!r} is in none of the evidence")
    if obj["expect"] == "answered" and not spans:
        raise fail("an answered case needs evidence")
    if obj["expect"] == "answered" and not obj.get("facts"):
        raise fail("an answered case needs facts")
    return Case(
        id=obj["id"],
        category=obj["category"],
        turns=tuple(turns),
        expect=obj["expect"],
        evidence=tuple(obj.get("evidence", [])),
        facts=tuple(obj.get("facts", [])),
        tags=tuple(obj.get("tags", [])),
        document=document,
        standalone=obj.get("standalone", ""),
        reason=obj.get("reason") or "",
        spans=tuple(spans),
    )


def _document_of(evidence: list, documents: dict[str, str]) -> str:
    """The document a case is about when it does not say: the corpus's only one, else the one
    whose text holds its first evidence ("article" when none or several do: an error then)."""
    if len(documents) == 1 or not evidence:
        return next(iter(documents), "article")
    holding = [d for d, text in documents.items() if evidence and evidence[0] in text]
    return holding[0] if len(holding) == 1 else "article"


def _read(path: Path, documents: dict[str, str], seen: set[str], by_file: bool) -> list[Case]:
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path.name}:{number}"
        try:
            obj = json.loads(line)
        except ValueError as error:
            raise CaseError(f"{where}: not JSON ({error})") from None
        case = _parse(obj, where, documents)
        if by_file and case.category != path.stem:
            raise CaseError(f"{where}: category {case.category!r} in {path.name}")
        if case.id in seen:
            raise CaseError(f"{where}: duplicate id {case.id!r}")
        seen.add(case.id)
        cases.append(case)
    return cases


def load_cases(documents: dict[str, str], cases_dir: Path = CASES_DIR) -> list[Case]:
    """Every case of a folder (one file per category), validated; raises CaseError naming the
    first problem."""
    seen: set[str] = set()
    return [
        c for path in sorted(cases_dir.glob("*.jsonl")) for c in _read(path, documents, seen, True)
    ]


def load_case_file(path: Path, documents: dict[str, str]) -> list[Case]:
    """The cases of one file of mixed categories (a corpus's ``cases.jsonl``), validated."""
    return _read(path, documents, set(), False)
