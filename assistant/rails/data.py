"""The rails' data files (``rails/data/*.toml``), read once, and their patterns compiled
(``assistant/patterns.py``: lists of strings joined, ``${name}`` fragments)."""

from __future__ import annotations

from pathlib import Path

from assistant.patterns import expand, load_toml, pattern, words

__all__ = ["DATA", "expand", "load", "pattern", "words"]

DATA = Path(__file__).resolve().parent / "data"


def load(name: str) -> dict:
    """The parsed ``data/<name>.toml``."""
    return load_toml(DATA / f"{name}.toml")
