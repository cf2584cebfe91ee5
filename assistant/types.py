"""The data that flows through a turn: small frozen values, and the one JSON shape of a reply."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

# "error": the service failed on its side (the page and the API say so; the chain never does)
# "partial": the documents do not answer directly; the reply quotes the closest they come
Status = Literal["answered", "partial", "abstained", "refused", "invalid", "error"]


@dataclass(frozen=True)
class Section:
    """A heading of a document and the character range it covers."""

    doc_id: str
    title: str
    start: int
    end: int


@dataclass(frozen=True)
class Sentence:
    """One sentence with exact offsets into its document's text."""

    doc_id: str
    passage_id: str
    index: int  # position within the document, in reading order
    text: str
    start: int
    end: int
    section: str


@dataclass(frozen=True)
class Passage:
    """A retrievable chunk: a paragraph, or a window of whole sentences of a long one."""

    id: str
    doc_id: str
    text: str
    start: int
    end: int
    section: str
    order: int  # reading order within the document
    sentences: tuple[Sentence, ...] = ()


@dataclass(frozen=True)
class Source:
    """One cited quote: ``document_text[start:end] == quote``."""

    id: int
    quote: str
    start: int
    end: int
    section: str
    document: str = "article"


@dataclass(frozen=True)
class Turn:
    """One earlier exchange, as the conversation stage sees it."""

    question: str
    standalone_question: str
    status: Status
    sources: tuple[Source, ...] = ()
    dosing: bool = False  # the turn was about doses (refused, or touched dosing)
    reason: str | None = None  # refused: the rail that refused it


@dataclass
class Reply:
    """The reply to one message; ``to_dict`` is the JSON shape used by the CLI, page and evals."""

    question: str
    standalone_question: str
    status: Status
    answer: str
    sources: list[Source] = field(default_factory=list)
    disclaimer: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    refusal_reason: str | None = None  # refused: dosing, crisis, emergency, medical_advice, ...
    # the probability that the quotes answer the question (assistant/decide.py); None when the
    # turn never reached the decision (refused, invalid, small talk, a question about the
    # document as a whole answered from its header, a request to write something)
    confidence: float | None = None
    route: str = ""  # the kind of turn (assistant/routes/routes.toml): retrieval, document, ...
    writer: str = "extractive"  # or the model id of the writer that wrote the prose
    # the writer's checks: sentences written, removed (with why), fallback ("" when prose shown)
    writer_checks: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The reply as shown: the answer, then the disclaimer."""
        return f"{self.answer}\n\n{self.disclaimer}" if self.disclaimer else self.answer

    def to_dict(self) -> dict:
        """The reply contract (DESIGN.md): ``answer`` is the reply as shown, ending with the
        disclaimer; the Reply itself keeps the two apart until here."""
        return {
            "question": self.question,
            "standalone_question": self.standalone_question,
            "status": self.status,
            "confidence": None if self.confidence is None else round(self.confidence, 3),
            "refusal_reason": self.refusal_reason,
            "route": self.route,
            "answer": self.text,
            "sources": [asdict(s) for s in self.sources],
            "disclaimer": self.disclaimer,
            "writer": self.writer,
            "writer_checks": self.writer_checks,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }
