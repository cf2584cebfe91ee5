"""What the assistant says about itself, read from the corpus, never from code.

A corpus describes itself twice: each document's YAML header (title, author) and, optionally,
``profile.toml`` beside the documents (a name, what the corpus covers, example questions, the
disclaimer, the words readers use for its subjects). Everything the assistant says about
itself (the greeting, "what can you do?", the abstention, the page's title and subtitle, the
disclaimer) is built here from those two; a corpus without a profile gets neutral wording
made from its documents' titles.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PROFILE = "profile.toml"
DEFAULT_DISCLAIMER = (
    "*This is information quoted from the documents, not professional advice; "
    "please check anything that matters with a qualified person.*"
)


@dataclass(frozen=True)
class DocumentInfo:
    """A document as the profile names it."""

    title: str
    author: str = ""


@dataclass(frozen=True)
class CorpusProfile:
    """How the assistant presents one corpus."""

    documents: tuple[DocumentInfo, ...]
    name: str = ""
    subject: str = ""  # what the corpus covers, as a phrase ("urban beekeeping and ...")
    examples: tuple[str, ...] = ()
    disclaimer: str = DEFAULT_DISCLAIMER
    declines: str = "I don't give dosing or personal medical advice."
    # Subjects readers name without a cited name ("MDMA", "magic mushrooms"): what "it" and
    # "and psilocybin?" can point back to.
    terms: tuple[str, ...] = ()
    noun: str = ""  # "the article"; by default "the document" or "the documents"
    tags: tuple[str, ...] = ()  # a chat's tags in clients that ask for them (assistant/tasks.py)

    @property
    def source(self) -> str:
        """How replies name the corpus: "the article", "the documents"."""
        if self.noun:
            return self.noun
        return "the document" if len(self.documents) == 1 else "the documents"

    @property
    def title(self) -> str:
        """The page's title."""
        return self.name or f"Ask {self.source}"

    @property
    def covers(self) -> str:
        """What the corpus covers: the profile's phrase, else its documents' titles."""
        return self.subject or _listed([f"*{d.title}*" for d in self.documents])

    @property
    def works(self) -> str:
        """The documents with their authors: "*Title* by Author"."""
        return _listed(
            [f"*{d.title}*" + (f" by {d.author}" if d.author else "") for d in self.documents]
        )

    @property
    def subtitle(self) -> str:
        """The page's subtitle: the documents, and how answers are made."""
        return f"{self.works}. Answers are verbatim quotes from {self.source}, each one cited."

    def about(self, examples: int = 4) -> str:
        """The reply to "what can you do?"."""
        noun = self.source.removeprefix("the ")
        count = f"one {noun}" if len(self.documents) == 1 else f"{len(self.documents)} {noun}"
        text = (
            f"I answer questions about {count}, {self.works}, quoting {self.source} word for "
            f"word and citing each quote. It covers {self.covers}. {self.declines}"
        )
        if self.examples[:examples]:
            text += "\n\nYou could ask, for example:\n\n" + "\n".join(
                f"- {q}" for q in self.examples[:examples]
            )
        return text

    def greeting(self) -> str:
        return "Hello! " + self.about()

    def thanks(self) -> str:
        return f"You're welcome. Ask me anything else about {self.source} whenever you like."

    def abstention(self, reason: str = "") -> str:
        """The reply when the corpus does not answer, with the reason when there is one."""
        why = f"; {reason}" if reason else ""
        source = self.source
        return (
            f"{source[0].upper()}{source[1:]} {'does' if _singular(source) else 'do'} not cover "
            f"that, so I can't answer it from {source}{why}. "
            f"I can tell you what {'it says' if _singular(source) else 'they say'} about "
            f"{self.covers}."
        )

    def partial_lead(self, reason: str = "") -> str:
        """The line before the quotes of a reply that does not answer directly, with the reason
        when there is one."""
        source = self.source
        verb = "doesn't" if _singular(source) else "don't"
        why = f": {reason}" if reason else ""
        closest = "it comes" if _singular(source) else "they come"
        return (
            f"{source[0].upper()}{source[1:]} {verb} answer this directly{why}. "
            f"The closest {closest}:"
        )

    def lead(self, name: str | None = None) -> str:
        """The line before the quotes."""
        if name:
            return f"Here is what {self.source} reports of {name}:"
        verb = "says" if _singular(self.source) else "say"
        return f"{self.source[0].upper()}{self.source[1:]} {verb}:"


def _singular(noun: str) -> bool:
    return not noun.endswith("s")


def _listed(items: Sequence[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def load_profile(corpus_dir: Path, documents: Sequence[DocumentInfo]) -> CorpusProfile:
    """The corpus's profile: ``profile.toml`` in ``corpus_dir`` if there is one, over defaults
    made from the documents' headers. Unknown keys are an error, not silently ignored."""
    path = Path(corpus_dir) / PROFILE
    data = tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    known = {"name", "subject", "examples", "disclaimer", "declines", "terms", "noun", "tags"}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}; known: {sorted(known)}")
    for key in ("examples", "terms", "tags"):
        if key in data:
            data[key] = tuple(str(v) for v in data[key])
    data.setdefault("examples", ("Give me a summary", "Who wrote it?"))
    data.setdefault("tags", tuple(d.title for d in documents)[:3])
    return CorpusProfile(documents=tuple(documents), **data)


def corpus_profile(corpus_dir: Path) -> CorpusProfile:
    """The profile of a corpus folder, read from its files alone (no index, no model)."""
    from assistant.corpus import corpus_files, read_document

    documents = sorted((read_document(p) for p in corpus_files(corpus_dir)), key=lambda d: d.id)
    return load_profile(corpus_dir, [DocumentInfo(d.title, d.author) for d in documents])
