"""Questions about a document as a whole: who wrote it and its title, quoted from its header
or byline, and "what is it about?", answered with an extractive summary: in each section, the
sentence closest to the section's centre (MiniLM vectors, computed at index time), in order.
What counts as such a question is in ``document.toml``."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from assistant.types import Source

MAX_SUMMARY_SENTENCES = 8


@cache
def _kinds() -> dict[str, re.Pattern[str]]:
    with (Path(__file__).with_name("document.toml")).open("rb") as handle:
        kinds = tomllib.load(handle)["kinds"]
    return {name: re.compile("".join(rx), re.I) for name, rx in kinds.items()}


def document_question(question: str) -> str | None:
    """``author``, ``title`` or ``summary`` when the message asks that of the document."""
    return next((kind for kind, rx in _kinds().items() if rx.search(question.strip())), None)


@dataclass(frozen=True)
class DocumentAnswer:
    lead: str
    sources: list[Source]
    missing: str = ""  # why there is no answer (no author in the header)


def _quoted(doc, value: str, number: int) -> Source | None:
    """``value`` where it first stands in the document's text (its header or byline)."""
    start = doc.text.find(value) if value else -1
    if start < 0:
        return None
    return Source(number, value, start, start + len(value), "", doc.id)


def summary_sentences(library, doc_id: str):
    """One sentence per section of the document, the closest to the section's centroid."""
    import numpy as np

    rows: dict[str, list[int]] = {}
    for row, sentence in enumerate(library.sentences):
        if sentence.doc_id == doc_id:
            rows.setdefault(sentence.section, []).append(row)
    vectors = np.asarray(library.sentence_vectors)
    chosen = []
    for members in rows.values():
        block = vectors[members]
        centre = block.mean(axis=0)
        chosen.append(library.sentences[members[int(np.argmax(block @ centre))]])
    chosen.sort(key=lambda s: s.start)
    if len(chosen) > MAX_SUMMARY_SENTENCES:  # evenly spread over the document
        step = len(chosen) / MAX_SUMMARY_SENTENCES
        chosen = [chosen[int(i * step)] for i in range(MAX_SUMMARY_SENTENCES)]
    return chosen


def answer_about_documents(kind: str, library) -> DocumentAnswer:
    """The answer to a document question, over every document of the corpus."""
    documents = sorted(library.documents.values(), key=lambda d: d.id)
    sources: list[Source] = []
    if kind in ("author", "title"):
        for doc in documents:
            value = doc.author if kind == "author" else doc.title
            found = _quoted(doc, value, len(sources) + 1)
            if found:
                sources.append(found)
        if not sources:
            return DocumentAnswer("", [], f"it does not name its {kind}")
        lead = "The author, as the document names it:" if kind == "author" else "Its title:"
        if len(documents) > 1:
            lead = "The authors, as the documents name them:" if kind == "author" else "Titles:"
        return DocumentAnswer(lead, sources)
    for doc in documents:
        for s in summary_sentences(library, doc.id):
            sources.append(Source(len(sources) + 1, s.text, s.start, s.end, s.section, s.doc_id))
    return DocumentAnswer("In its own words, one sentence from each part:", sources)
