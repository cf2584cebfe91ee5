"""assistant/config.py: Settings from the environment (pydantic-settings), validated, frozen."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from assistant.config import Settings


def test_each_field_comes_from_its_environment_variable(monkeypatch):
    monkeypatch.setenv("ASSISTANT_TOP_K", "7")
    monkeypatch.setenv("ASSISTANT_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("ASSISTANT_CHROMA_URL", "")
    settings = Settings()
    assert settings.top_k == 7
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.chroma_url is None


def test_a_bad_value_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("ASSISTANT_TOP_K", "many")
    with pytest.raises(ValidationError, match="top_k"):
        Settings()


def test_replace_changes_only_what_is_given_and_keeps_settings_hashable():
    settings = Settings()
    changed = settings.replace(top_k=9, llm=None)
    assert changed.top_k == 9 and changed.llm == settings.llm and settings.top_k != 9
    assert hash(Settings()) == hash(Settings())  # get_resources caches per Settings
    with pytest.raises(TypeError, match="unknown settings"):
        settings.replace(topk=3)
    with pytest.raises(ValidationError):
        settings.top_k = 3  # frozen
