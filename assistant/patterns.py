"""Patterns kept in data files (the rails' ``rails/data/*.toml``, ``answer_types.toml``): a
file is read once; a pattern is a string, or a list of strings joined without a separator (so
a long alternation reads one alternative group a line); ``${name}`` stands for the fragment of
that name in the file's ``[fragments]`` table, which may itself use earlier fragments."""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path

_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


@cache
def load_toml(path: Path) -> dict:
    """The parsed TOML file, read once."""
    with path.open("rb") as handle:
        return tomllib.load(handle)


def joined(value: str | list[str]) -> str:
    return value if isinstance(value, str) else "".join(value)


def expand(value: str | list[str], fragments: dict) -> str:
    """The pattern text with every ``${name}`` replaced by its (expanded) fragment."""

    def fragment(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in fragments:
            raise KeyError(f"unknown pattern fragment ${{{name}}}")
        return expand(fragments[name], fragments)

    return _PLACEHOLDER.sub(fragment, joined(value))


def pattern(
    value: str | list[str], fragments: dict | None = None, flags: int = re.I
) -> re.Pattern[str]:
    """A compiled pattern from a data-file value (case-insensitive unless ``flags`` says)."""
    return re.compile(expand(value, fragments or {}), flags)


def words(value: str | list[str]) -> frozenset[str]:
    """A word list given as one space-separated string (or a list of them)."""
    return frozenset(joined(value if isinstance(value, str) else " ".join(value)).split())
