"""The route registry: the kinds of turn, in the order the chain tries them (``routes.toml``)."""

from __future__ import annotations

from pathlib import Path

from assistant.patterns import load_toml

REGISTRY = Path(__file__).with_name("routes.toml")
ROUTES: dict[str, dict] = load_toml(REGISTRY)["routes"]
DOCUMENT_DATA: dict = load_toml(REGISTRY)["document"]
DOCUMENT_KINDS: tuple[str, ...] = tuple(ROUTES["document"]["kinds"])


def learned_labels() -> tuple[str, ...]:
    """The labels the router learns from examples: ``task``, ``document:<kind>`` and the
    default route (``retrieval``) they are told apart from."""
    labels = []
    for name, route in ROUTES.items():
        if route.get("kinds") and route.get("learned"):
            labels += [f"{name}:{kind}" for kind in route["kinds"]]
        elif route.get("learned") or route.get("default"):
            labels.append(name)
    return tuple(labels)


DEFAULT_ROUTE = next(name for name, route in ROUTES.items() if route.get("default"))
