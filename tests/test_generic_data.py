"""The generic data files (the rails' data, the answer and condense patterns, tasks.toml: every
TOML file under assistant/) name no person or work of one corpus; what a pattern needs of the
corpus comes from the corpus, at load time (the rails' ``${cited_people}``).

Runs on the shipped corpus's headers and name index: no model, no index needed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from wordfreq import zipf_frequency

from assistant.config import ROOT
from assistant.names import EVERYDAY_ZIPF, NameIndex
from assistant.rails import intents

GENERIC_DATA = sorted((ROOT / "assistant").rglob("*.toml"))


def corpus_names(documents, names: NameIndex) -> set[str]:
    """Who and what the corpus names: each document's title and author, each cited person or
    work, and each alias that is a proper name or a title (capitalised: "Hendricks", "I Feel
    Love"; not a description readers use, like "case series")."""
    found = {text for d in documents for text in (d.title, d.author) if text}
    for cited in names.names.values():
        found.add(cited.name)
        found.update(a for a in cited.aliases if any(c.isupper() for c in a))
    return found


def _words(text: str, fold: bool) -> str:
    """The text's words, one space apart and around; a regex escape ("\\ben") is no word."""
    text = re.sub(r"\\[A-Za-z]", " ", text)
    return " " + " ".join(re.findall(r"[^\W_]+", text.lower() if fold else text)) + " "


def _everyday(name: str) -> bool:
    """One word that is also an everyday English word ("Close", "MAPS"): like the name index,
    it is the name only as written, capitalised ("close to", "maps" are English)."""
    return " " not in name and zipf_frequency(name.lower(), "en") >= EVERYDAY_ZIPF


def test_the_corpus_names_people_and_works(documents, names):
    found = corpus_names(documents, names)
    assert {"Callie", "Peter Hendricks", "Hendricks", "I Feel Love"} <= found
    assert all(d.title in found for d in documents)
    assert GENERIC_DATA and all(p.suffix == ".toml" for p in GENERIC_DATA)


@pytest.mark.parametrize("path", GENERIC_DATA, ids=lambda p: str(p.relative_to(ROOT)))
def test_generic_data_names_nothing_of_the_corpus(path: Path, documents, names):
    text = path.read_text(encoding="utf-8")
    folded, written = _words(text, fold=True), _words(text, fold=False)
    named = sorted(
        name
        for name in corpus_names(documents, names)
        if (
            _words(name, fold=False) in written if _everyday(name) else _words(name, True) in folded
        )
    )
    assert not named, f"{path.relative_to(ROOT)} names {named}: read them from the corpus"


def test_the_rails_read_the_corpus_people_from_its_name_index(names, monkeypatch):
    """ "Was <a person of the documents> ever suicidal?" is about the documents, not the user:
    the crisis rail's look-alike exemption names the corpus's people, once a corpus is loaded."""
    monkeypatch.setattr(intents, "_cited_people", frozenset())
    message = "I wonder if Callie was ever suicidal."
    assert intents.matching_rails(message) == ["crisis"]  # no corpus loaded: no exemption
    intents.cite_people(names)
    assert {"callie", "peter hendricks", "hendricks"} <= intents._cited_people
    assert "close" not in intents._cited_people  # an everyday word, once case is folded
    assert intents.matching_rails(message) == []
    assert intents.matching_rails("I have been suicidal lately.") == ["crisis"]
