"""The output guard, on every reply: verify each quote against its document, cut or drop any
quote that carries a dose, redact a dose anywhere in the text, end with the disclaimer."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

from assistant.rails.data import load
from assistant.rails.doses import contains_dose, find_doses, redact_doses
from assistant.types import Reply, Source

# A quote whose dose sits at the end of a long leading clause keeps that clause, verbatim, so
# "Why should MDMA be tested?" can still be answered from the sentence that also gives the
# amount ("It's important to test MDMA ... methamphetamine, and ... 120-180 milligrams.").
# The clause must stand on its own: at least this many characters, ending at , ; : or a dash.
MIN_CLAUSE_CHARS = 40
_CLAUSE_END = re.compile(r"[,;:\u2013\u2014(]|\s-\s")


def _note(key: str) -> str:
    return load("replies")["notes"][key]


def _quote_lines(answer: str, source: Source) -> list[int]:
    """Indexes of the answer lines that carry this source's quote."""
    quote = source.quote.strip()
    marker = f"[{source.id}]"
    return [
        i
        for i, line in enumerate(answer.split("\n"))
        if (quote and quote in line) or (line.lstrip().startswith(">") and marker in line)
    ]


def _remove_quote_lines(answer: str, source: Source) -> str:
    drop = set(_quote_lines(answer, source))
    return "\n".join(line for i, line in enumerate(answer.split("\n")) if i not in drop)


def _dose_free_clause(source: Source, document: str) -> Source | None:
    """The source cut to its leading clause before the first dose, or None if none stands alone."""
    spans = find_doses(source.quote)
    if not spans:
        return source
    head = source.quote[: spans[0][0]]
    cuts = [m.start() for m in _CLAUSE_END.finditer(head)]
    if not cuts:
        return None
    clause = head[: cuts[-1]].rstrip()
    if len(clause) < MIN_CLAUSE_CHARS or contains_dose(clause):
        return None
    end = source.start + len(clause)
    if document[source.start : end] != clause:
        return None
    return dataclasses.replace(source, quote=clause, end=end)


def _cut_dose(answer: str, source: Source, doc: str) -> tuple[str, Source | None]:
    """The answer with this dose-carrying source cut to its dose-free clause, or removed."""
    trimmed = _dose_free_clause(source, doc)
    rows = answer.split("\n")
    lines = _quote_lines(answer, source)
    quote = source.quote.strip()
    if trimmed is not None and lines and all(quote in rows[i] for i in lines):
        for i in lines:
            rows[i] = rows[i].replace(quote, trimmed.quote)
        if not any(contains_dose(rows[i]) for i in lines):
            return "\n".join(rows), trimmed
    return _remove_quote_lines(answer, source), None


def guard_out(reply: Reply, documents: Mapping[str, str], disclaimer: str) -> Reply:
    """Verify quotes, drop dose-carrying sources and any dose in the text, attach the
    disclaimer (kept apart from the answer; ``Reply.text`` renders both)."""
    answer = (reply.answer or "").rstrip()
    notes = list(reply.notes)
    kept: list[Source] = []
    dropped_dose = 0
    for source in reply.sources:
        doc = documents.get(source.document)
        if doc is None or doc[source.start : source.end] != source.quote or not source.quote:
            notes.append(f"dropped unverified source {source.id}")
            answer = _remove_quote_lines(answer, source)
            continue
        if contains_dose(source.quote):
            dropped_dose += 1
            answer, trimmed = _cut_dose(answer, source, doc)
            if trimmed is not None:
                notes.append(f"cut source {source.id} before its dosing figure")
                kept.append(trimmed)
            else:
                notes.append(f"dropped dose-carrying source {source.id}")
            continue
        kept.append(source)

    status = reply.status
    if status in ("answered", "partial") and reply.sources and not kept:
        status = "abstained"
        answer = _note("abstain_dose") if dropped_dose else _note("abstain_unverified")
        notes.append("abstained: no verified dose-free source left")
    elif dropped_dose and _note("dose") not in answer:
        answer = answer.rstrip() + "\n\n" + _note("dose")

    answer = re.sub(r"\n{3,}", "\n\n", answer).strip()
    if contains_dose(answer):
        notes.append("redacted a dose in the answer text")
        answer = redact_doses(answer)
    if not answer:
        answer = _note("abstain_unverified")
    standalone = reply.standalone_question
    if standalone and contains_dose(standalone):
        standalone = redact_doses(standalone)
    # a reply left without its quotes no longer carries their confidence
    confidence = reply.confidence if status == reply.status else None
    return dataclasses.replace(
        reply,
        status=status,
        confidence=confidence,
        answer=answer,
        sources=kept,
        disclaimer=disclaimer,
        standalone_question=standalone,
        notes=notes,
    )
