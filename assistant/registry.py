"""The statuses a reply can have and the stages a turn can pass (``registry.toml``)."""

from __future__ import annotations

from pathlib import Path

from assistant.patterns import load_toml

_DATA = load_toml(Path(__file__).with_name("registry.toml"))
STATUSES: dict[str, dict] = _DATA["statuses"]
STAGES: dict[str, str] = _DATA["stages"]  # name -> what it does, in the order a turn passes
BADGES: dict[str, tuple[str, str]] = {name: tuple(s["badge"]) for name, s in STATUSES.items()}
