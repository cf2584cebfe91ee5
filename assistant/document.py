"""Questions about a document as a whole, answered from the document itself (the router,
``assistant/routes/``, tells them; ``routes.toml`` lists the kinds):

- ``author``, ``title``: quoted from its header or byline;
- ``summary``: its first sentence (the lede), then in each later section the sentence closest
  to the section's centre, in order;
- ``argument``: how it opens and how it closes (its first sentences, its last paragraph of
  argument);
- ``resources``: the sentences that point elsewhere (a recommendation, a link), then the
  sections that list further reading (by their headings' words);
- ``disclaimer``: the sentences it repeats word for word or labels as a note;
- ``structure``: its headings, in order;
- ``date``: its date, when its header gives one.

The words that mark a resources heading or a disclaimer are data (``routes.toml``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from assistant.routes.registry import DOCUMENT_DATA
from assistant.types import Sentence, Source

MAX_SUMMARY_SENTENCES = 8
_LINK = re.compile(r"https?://|www\.|\b[\w-]+\.(?:org|com|net)\b")
MAX_LIST = 8
OPENING_SENTENCES = 2
CLOSING_SENTENCES = 2


@dataclass(frozen=True)
class DocumentAnswer:
    lead: str
    sources: list[Source]


def _has_any(text: str, words) -> bool:
    lowered = text.lower()
    return any(re.search(rf"\b{re.escape(w)}\b", lowered) for w in words)


def _sentences(library, doc_id: str) -> list[Sentence]:
    return sorted((s for s in library.sentences if s.doc_id == doc_id), key=lambda s: s.start)


def is_resource_section(title: str) -> bool:
    return _has_any(title, DOCUMENT_DATA["resource_headings"])


def disclaimer_sentences(doc, sentences: list[Sentence]) -> list[Sentence]:
    """Sentences the document repeats word for word, labels as a note, or that say what it is
    not (``disclaimer_words``), first occurrences only."""
    labels = DOCUMENT_DATA["note_labels"]
    note = re.compile(rf"^\s*(?:{'|'.join(map(re.escape, labels))})\s*:", re.I)
    seen, found = set(), []
    for s in sentences:
        repeated = len(s.text) > 20 and doc.text.count(s.text) > 1
        if s.text in seen:
            continue
        if repeated or note.match(s.text) or _has_any(s.text, DOCUMENT_DATA["disclaimer_words"]):
            seen.add(s.text)
            found.append(s)
    return found


def summary_sentences(library, doc) -> list[Sentence]:
    """One sentence per section of the document: the opening section's first, each later
    section's closest to its centroid (notes and disclaimers left out)."""
    import numpy as np

    notes = {s.text for s in disclaimer_sentences(doc, _sentences(library, doc.id))}
    rows: dict[str, list[int]] = {}
    for row, sentence in enumerate(library.sentences):
        if sentence.doc_id == doc.id and sentence.text not in notes:
            rows.setdefault(sentence.section, []).append(row)
    vectors = np.asarray(library.sentence_vectors)
    chosen = []
    for number, members in enumerate(rows.values()):
        if number == 0:  # the opening section: its first sentence, the lede
            chosen.append(library.sentences[min(members, key=lambda r: library.sentences[r].start)])
            continue
        block = vectors[members]
        centre = block.mean(axis=0)
        chosen.append(library.sentences[members[int(np.argmax(block @ centre))]])
    chosen.sort(key=lambda s: s.start)
    if len(chosen) > MAX_SUMMARY_SENTENCES:  # evenly spread over the document
        step = len(chosen) / MAX_SUMMARY_SENTENCES
        chosen = [chosen[int(i * step)] for i in range(MAX_SUMMARY_SENTENCES)]
    return chosen


def argument_sentences(library, doc) -> list[Sentence]:
    """Its first sentences and its last paragraph of argument (before any list of resources),
    leaving out its notes and disclaimers."""
    sentences = _sentences(library, doc.id)
    notes = {s.text for s in disclaimer_sentences(doc, sentences)}
    argued = [s for s in sentences if s.text not in notes and not is_resource_section(s.section)]
    if not argued:
        return []
    opening = argued[:OPENING_SENTENCES]
    last = [s for s in argued if s.passage_id == argued[-1].passage_id][:CLOSING_SENTENCES]
    return opening + [s for s in last if s not in opening]


def resource_sentences(library, doc) -> list[Sentence]:
    """The sentences that point the reader elsewhere (a recommendation, a link), then the items
    of its sections of further reading."""
    sentences = _sentences(library, doc.id)
    notes = {s.text for s in disclaimer_sentences(doc, sentences)}
    pointers = [
        s
        for s in sentences
        if not is_resource_section(s.section)
        and (_has_any(s.text, DOCUMENT_DATA["pointer_words"]) or _LINK.search(s.text))
    ]
    listed = [s for s in sentences if is_resource_section(s.section) and s.text not in notes]
    return (pointers + listed)[:MAX_LIST]


def headings(library, doc) -> list[Source]:
    """Each section's heading, quoted where it stands in the text, in order."""
    found, at = [], 0
    for title in dict.fromkeys(s.section for s in _sentences(library, doc.id)):
        # the heading's own line, not an earlier mention in the prose
        line = re.compile(rf"^[#\s]*({re.escape(title)})\s*$", re.M) if title else None
        match = line.search(doc.text, at) if line else None
        if match:
            found.append(Source(0, title, match.start(1), match.end(1), title, doc.id))
            at = match.end(1)
    return found


def _header_value(doc, kind: str) -> list[Source]:
    value = getattr(doc, kind, "") or ""
    start = doc.text.find(value) if value else -1
    if start < 0:
        return []
    return [Source(0, value, start, start + len(value), "", doc.id)]


def _quoted(sentences: list[Sentence]) -> list[Source]:
    return [Source(0, s.text, s.start, s.end, s.section, s.doc_id) for s in sentences]


# kind -> (the answer's lead, how to find its quotes in one document)
KINDS: dict[str, tuple[str, Callable]] = {
    "author": ("The author, as the document names it:", lambda lib, d: _header_value(d, "author")),
    "title": ("Its title:", lambda lib, d: _header_value(d, "title")),
    "date": ("Its date:", lambda lib, d: _header_value(d, "date")),
    "summary": (
        "In its own words, one sentence from each part:",
        lambda lib, d: _quoted(summary_sentences(lib, d)),
    ),
    "argument": (
        "How it opens and how it closes, in its own words:",
        lambda lib, d: _quoted(argument_sentences(lib, d)),
    ),
    "resources": ("The resources it lists:", lambda lib, d: _quoted(resource_sentences(lib, d))),
    "disclaimer": (
        "What it says of itself:",
        lambda lib, d: _quoted(disclaimer_sentences(d, _sentences(lib, d.id))),
    ),
    "structure": ("Its headings, in order:", headings),
}


def answer_about_documents(kind: str, library) -> DocumentAnswer:
    """The answer to a document question, over every document of the corpus."""
    lead, find = KINDS[kind]
    sources: list[Source] = []
    for doc in sorted(library.documents.values(), key=lambda d: d.id):
        for s in find(library, doc):
            sources.append(Source(len(sources) + 1, s.quote, s.start, s.end, s.section, s.document))
    if not sources:  # the route's retrieval stages ask the passages
        return DocumentAnswer("", [])
    if len(library.documents) > 1:
        lead = lead.replace("the document names it", "the documents name them")
    return DocumentAnswer(lead, sources)
