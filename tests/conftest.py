"""Shared fixtures: the shipped corpus parsed (no index, no model), its name index, one real
index (in a temporary folder) and one assistant per test session."""

from __future__ import annotations

import importlib
import sys

import pytest

from assistant.config import ROOT, Settings, apply_offline_env
from tests.servers import page_server

apply_offline_env()


@pytest.fixture(scope="session")
def documents():
    """The shipped corpus's documents, parsed and split (no index, no model)."""
    from assistant.corpus import load_corpus

    return load_corpus(ROOT / "corpus")


@pytest.fixture(scope="session")
def names(documents):
    """The name index over the shipped corpus."""
    from assistant.names import NameIndex

    return NameIndex(documents)


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


@pytest.fixture(scope="session")
def app_module():
    """``app.py``, which lives at the repository root, outside the package."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("app")


@pytest.fixture(scope="session")
def app_url(assistant, settings):
    """The page in a child process, served from the session's index (built by ``assistant``)."""
    env = {
        "ASSISTANT_INDEX_DIR": str(settings.index_dir),
        "ASSISTANT_CORPUS_DIR": str(settings.corpus_dir),
        "ASSISTANT_CHROMA_URL": "",
    }
    with page_server(env=env) as url:
        yield url
