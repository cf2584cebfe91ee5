"""The rails, listed once (``data/rails.toml``): their names, their badges, which send a person to
help first. Every other list of rails (the reasons a reply may carry, the learned rail's labels,
the page's badges, the evals' and the contract's reasons) is read from here."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.rails.data import load


@dataclass(frozen=True)
class Rail:
    name: str
    badge: str
    style: str = "refused"
    help_first: bool = False


RAILS: tuple[Rail, ...] = tuple(Rail(**rail) for rail in load("rails")["rails"])
REASONS: tuple[str, ...] = tuple(rail.name for rail in RAILS)
HELP_FIRST: tuple[str, ...] = tuple(rail.name for rail in RAILS if rail.help_first)
BADGES: dict[str, tuple[str, str]] = {rail.name: (rail.style, rail.badge) for rail in RAILS}
