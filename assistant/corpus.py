"""The corpus as data: documents with a metadata header, split into sections, passages and
sentences, each carrying exact character offsets into its document's text."""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

from assistant.types import Passage, Section, Sentence

SUFFIXES = (".md", ".txt")
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.S)
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*$", re.M)
_PARAGRAPH = re.compile(r"[^\n]+(?:\n(?!\n)[^\n]+)*")
# pysbd keeps a quotation whole; a quoted passage of several sentences is split again at a
# sentence end followed by a capital or an opening quote, unless the word before is an abbreviation.
_INNER_END = re.compile(r"(?<=[.!?])[”\"]?\s+(?=[“\"(]?[A-Z])")
_ABBREVIATIONS = ("Dr.", "Ph.D.", "a.k.a.", "Mr.", "Mrs.", "Ms.", "St.", "e.g.", "i.e.", "vs.")


@dataclass(frozen=True)
class Document:
    """One corpus file: its id, full text (offsets refer to it), metadata and structure."""

    id: str
    path: Path
    text: str
    title: str
    author: str
    source: str = ""
    date: str = ""  # as the header gives it
    cites: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sections: tuple[Section, ...] = ()
    passages: tuple[Passage, ...] = ()

    @property
    def sentences(self) -> tuple[Sentence, ...]:
        return tuple(s for p in self.passages for s in p.sentences)


def text_hash(text: str) -> str:
    """A short, stable content hash."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def parse_front_matter(text: str) -> tuple[dict, int]:
    """The YAML header as a dict, and the offset where the body starts."""
    import yaml

    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, 0
    return (yaml.safe_load(match.group(1)) or {}), match.end()


def split_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Sentence spans of ``text`` (shifted by ``offset``), trimmed of surrounding whitespace."""
    import pysbd

    segmenter = _segmenter(pysbd)
    spans: list[tuple[int, int]] = []
    for piece in segmenter.segment(text):
        start, end = piece.start, piece.end
        cut = start
        for match in _INNER_END.finditer(text, start, end):
            head = text[cut : match.start()].rstrip()
            if any(head.endswith(a) for a in _ABBREVIATIONS) or not head.endswith((".", "!", "?")):
                continue
            # keep a closing quote with the sentence it closes
            stop = match.start() + (1 if text[match.start()] in '”"' else 0)
            spans.append((cut, stop))
            cut = match.end()
        spans.append((cut, end))
    trimmed = []
    for start, end in spans:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start < end:
            trimmed.append((start + offset, end + offset))
    return trimmed


@cache
def _segmenter(pysbd):  # noqa: ANN001 - the module, passed so importing corpus stays cheap
    return pysbd.Segmenter(language="en", clean=False, char_span=True)


def _sections(doc_id: str, text: str, body_start: int) -> list[Section]:
    heads = [m for m in _HEADING.finditer(text, body_start)]
    sections = []
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        sections.append(Section(doc_id, m.group(2), m.start(), end))
    first = heads[0].start() if heads else len(text)
    if text[body_start:first].strip():
        sections.insert(0, Section(doc_id, "", body_start, first))
    return sections


def _passages(doc_id: str, text: str, sections: list[Section], max_words: int) -> list[Passage]:
    """Paragraphs as passages; a long paragraph becomes windows of whole sentences."""
    passages: list[Passage] = []
    title_of = {s.start: s.title for s in sections}
    section_title = ""
    sentence_index = 0
    for para in _PARAGRAPH.finditer(text, sections[0].start if sections else 0):
        if para.start() in title_of:
            section_title = title_of[para.start()]
        if _HEADING.fullmatch(para.group(0)):
            continue
        spans = split_sentences(para.group(0), para.start())
        windows: list[list[tuple[int, int]]] = [[]]
        for span in spans:
            words = sum(len(text[a:b].split()) for a, b in windows[-1])
            if windows[-1] and words + len(text[span[0] : span[1]].split()) > max_words:
                windows.append([])
            windows[-1].append(span)
        for window in windows:
            if not window:
                continue
            pid = f"{doc_id}:p{len(passages):03d}"
            sentences = []
            for a, b in window:
                sentences.append(
                    Sentence(doc_id, pid, sentence_index, text[a:b], a, b, section_title)
                )
                sentence_index += 1
            start, end = window[0][0], window[-1][1]
            passages.append(
                Passage(
                    pid,
                    doc_id,
                    text[start:end],
                    start,
                    end,
                    section_title,
                    len(passages),
                    tuple(sentences),
                )
            )
    return passages


def read_text(path: Path) -> str:
    """A corpus file's text, the one every offset refers to (UTF-8, a byte-order mark dropped)."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path.name}: not UTF-8 text ({error.reason})") from None


def _title(text: str, body_start: int, fallback: str) -> str:
    """A document without a title in its header is named by its first line, else its file stem."""
    for line in text[body_start:].splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:200]
    return fallback


def read_document(path: Path) -> Document:
    """One Markdown or text document's text and metadata header, not yet split."""
    import yaml

    text = read_text(path)
    try:
        meta, body_start = parse_front_matter(text)
    except yaml.YAMLError as error:
        raise ValueError(f"{path.name}: the metadata header is not valid YAML ({error})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path.name}: the metadata header must be a mapping (title: ...)")
    cites = {
        str(name): tuple(str(a) for a in (aliases or ()))
        for name, aliases in (meta.get("cites") or {}).items()
    }
    return Document(
        id=path.stem,
        path=path,
        text=text,
        title=str(meta.get("title") or _title(text, body_start, path.stem)),
        author=str(meta.get("author") or ""),
        source=str(meta.get("source") or ""),
        date=str(meta.get("date") or ""),
        cites=cites,
    )


def load_document(path: Path, max_passage_words: int = 120) -> Document:
    """Read one Markdown or text document and split it into sections, passages and sentences."""
    document = read_document(path)
    _, body_start = parse_front_matter(document.text)
    sections = _sections(document.id, document.text, body_start)
    passages = _passages(document.id, document.text, sections, max_passage_words)
    return replace(document, sections=tuple(sections), passages=tuple(passages))


def corpus_files(corpus_dir: Path) -> list[Path]:
    """The documents of a corpus folder (Markdown and text, not hidden), in a stable order.

    A document's id is its file stem, so two files may not share one.
    """
    paths = sorted(
        p
        for p in corpus_dir.iterdir()
        if p.suffix in SUFFIXES and p.is_file() and not p.name.startswith((".", "~"))
    )
    stems: dict[str, Path] = {}
    for path in paths:
        if path.stem in stems:
            raise ValueError(
                f"{stems[path.stem].name} and {path.name} would both be document {path.stem!r}; "
                "rename one"
            )
        stems[path.stem] = path
    return paths


def load_corpus(corpus_dir: Path, max_passage_words: int = 120) -> list[Document]:
    """Every document in the corpus folder."""
    return [load_document(p, max_passage_words) for p in corpus_files(corpus_dir)]


def add_document(corpus_dir: Path, source: Path, max_passage_words: int = 120) -> Document:
    """Copy a Markdown or text file into the corpus after checking that it reads as a document."""
    if source.suffix not in SUFFIXES:
        raise ValueError(f"{source.name}: only {' and '.join(SUFFIXES)} documents can be added")
    document = load_document(source, max_passage_words)
    if not document.passages:
        raise ValueError(f"{source.name}: no text to index")
    corpus_dir.mkdir(parents=True, exist_ok=True)
    target = corpus_dir / source.name
    clash = [p for p in corpus_files(corpus_dir) if p.stem == source.stem and p != target]
    if clash:
        raise ValueError(f"{clash[0].name} is already document {source.stem!r}; rename the file")
    if source.resolve() != target.resolve():
        shutil.copyfile(source, target)
    return replace(document, path=target)
