"""Routing: which kind of turn a message is (the route registry in ``routes.toml``), the
learned router that tells them (``router.py``), and the stages that answer the routes that
need no retrieval (``stages.py``)."""

from assistant.routes.registry import ROUTES

__all__ = ["ROUTES"]
