"""The name index: the people and works the documents cite (their headers' ``cites``), the
names readers use for them ("Close et al."), and the passages that report on each. Retrieval
uses it to reach what a document reports of a name; the condense stage to resolve "he"."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.corpus import Document

# A one-word name that is also an everyday English word ("Close", "MAPS": wordfreq Zipf at
# least this) only matches as written, capitalised; rarer names ("Hendricks" 3.2, "Watson" 4.2)
# match in any case, as people type them.
EVERYDAY_ZIPF = 4.3


def _everyday(word: str) -> bool:
    from wordfreq import zipf_frequency

    return zipf_frequency(word.lower(), "en") >= EVERYDAY_ZIPF


@dataclass(frozen=True)
class CitedName:
    """A person or work a document cites, the names readers use for it, and the passages that
    report on it (where it is named, and the passages after that until another name comes up)."""

    name: str
    aliases: tuple[str, ...]
    passage_ids: tuple[str, ...]
    introduced_in: tuple[str, ...] = ()  # passages that name it (first of each document first)
    pattern: re.Pattern | None = None


class NameIndex:
    """Finds cited names in a question and maps them to the passages that report on them."""

    def __init__(self, documents: Sequence[Document]) -> None:
        self._patterns: list[tuple[str, re.Pattern]] = []
        self.names: dict[str, CitedName] = {}
        for doc in documents:
            for name, aliases in doc.cites.items():
                self._patterns.append((name, _alias_pattern((name, *aliases))))
        for doc in documents:
            self._attribute(doc)

    def _attribute(self, doc: Document) -> None:
        found: dict[str, list[str]] = {}
        mentions: dict[str, list[str]] = {}
        current: set[str] = set()
        section = None
        for passage in doc.passages:
            named = {n for n, pattern in self._patterns if pattern.search(passage.text)}
            for name in named:
                mentions.setdefault(name, []).append(passage.id)
            if passage.section != section:
                section, current = passage.section, set()
            if named:
                current = named
            for name in current:
                found.setdefault(name, []).append(passage.id)
        for name, pattern in self._patterns:
            old = self.names.get(name)
            ids = (old.passage_ids if old else ()) + tuple(found.get(name, ()))
            intro = (old.introduced_in if old else ()) + tuple(mentions.get(name, ()))
            aliases = old.aliases if old else (name, *doc.cites.get(name, ()))
            self.names[name] = CitedName(name, aliases, ids, intro, pattern)

    def find(self, text: str) -> list[CitedName]:
        """The cited names mentioned in ``text``, in order of appearance."""
        hits = []
        for name, pattern in self._patterns:
            match = pattern.search(text)
            if match:
                hits.append((match.start(), name))
        seen: dict[str, CitedName] = {}
        for _, name in sorted(hits):
            seen.setdefault(name, self.names[name])
        return list(seen.values())


def _alias_pattern(aliases: Sequence[str]) -> re.Pattern:
    parts = []
    for alias in sorted(set(aliases), key=len, reverse=True):
        body = r"\s+".join(re.escape(w) for w in alias.split())
        if " " not in alias and _everyday(alias):
            parts.append(rf"(?-i:{body})")
        else:
            parts.append(body)
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?:['’]s)?(?!\w)", re.I)
