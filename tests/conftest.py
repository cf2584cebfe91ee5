"""Shared fixtures: one real index (in a temporary folder) and one assistant per test session."""

from __future__ import annotations

import pytest

from assistant.config import ROOT, Settings, apply_offline_env

apply_offline_env()


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    """Settings over the shipped corpus with a fresh index of the session's own."""
    return Settings().replace(
        corpus_dir=ROOT / "corpus", index_dir=tmp_path_factory.mktemp("index"), chroma_url=""
    )


@pytest.fixture(scope="session")
def assistant(settings):
    """The real product: real model, real Chroma index, the full chain."""
    from assistant.chain import Assistant

    return Assistant(settings)


@pytest.fixture(scope="session")
def resources(assistant):
    return assistant.resources


@pytest.fixture(scope="session")
def article_text() -> str:
    return (ROOT / "corpus" / "article.md").read_text(encoding="utf-8")
