"""One place for each setting: paths, caps, thresholds, the service.

Values come from the environment (``ASSISTANT_*``, read by pydantic-settings when a
``Settings`` is made) and may be overridden by CLI flags via ``Settings.replace``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent

# Chroma and Gradio must not phone home; HF must never reach a hub.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


def apply_offline_env() -> None:
    """Set the no-network, no-telemetry environment before any heavy import."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


def _env(name: str, default: str) -> str:
    return os.environ.get(f"ASSISTANT_{name}", default)


def encoder_dir() -> Path:
    """Where the ONNX question encoder is kept; one per machine, shared by every index."""
    return Path(_env("ENCODER_DIR", str(ROOT / "index" / "encoder")))


def reader_dir() -> Path:
    """Where the trained reader is read from (the one shipped in models/reader by default)."""
    return Path(_env("READER_DIR", str(ROOT / "models" / "reader")))


def query_encoder() -> str:
    """What embeds questions at run time: "onnx" (the default) or "sentence-transformers"."""
    return _env("QUERY_ENCODER", "onnx")


class Settings(BaseSettings):
    """Everything a run can be configured with: each field from ``ASSISTANT_<NAME>`` in the
    environment (pydantic-settings), else its default here."""

    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", frozen=True, extra="forbid")

    corpus_dir: Path = ROOT / "corpus"
    index_dir: Path = ROOT / "index"
    chroma_url: str | None = None
    collection: str = "passages"

    # Chunking: a passage is a paragraph, split into windows of whole sentences when long.
    # 120 words keeps a passage well inside MiniLM's 256-token window.
    max_passage_words: int = 120

    # Input
    max_message_chars: int = 2000
    history_turns: int = 6

    # Retrieval
    top_k: int = 4
    rrf_k: int = 60
    candidates: int = 10

    # Answer
    # Which answerer ranks the candidates (assistant/answerers.py): "reader" (the trained
    # reader, models/reader) or "scorer" (the feature scorer); the decision after either is
    # assistant/decide.py's. Measured 2026-12-07 with the calibrated decision: on the blind
    # article_qa_v2 the reader's answers are right 0.865 of the time (scorer 0.860), it answers
    # 0.041 of the unanswerable questions (0.061) and its quotes hold the answer 0.89 of the
    # time (0.35); on SQuAD 2.0 dev 0.690 (0.637) and 0.155 (0.219). The scorer answers a little
    # more (0.276 and 0.335 of the questions against 0.237 and 0.310), its confidence is better
    # calibrated on the blind set (ECE 0.056 against 0.096), and a turn costs a fifth of the
    # reader's (p50 14 against 85 ms through the chain on SQuAD dev; the test suite on 2 cores
    # took 18.5 minutes with the reader as default): the scorer stays the default.
    answerer: str = "scorer"
    # The reader reads this many candidate sentences, the best by the feature scorer: each
    # pair costs a few ms on 2 cores. On SQuAD dev (1,321 answerable questions, 15.5 candidate
    # sentences each) the scorer's top 4 / 6 / 8 / 12 held the answer sentence for 0.902 /
    # 0.932 / 0.940 / 0.948 of them, all candidates for 0.951.
    reader_candidates: int = 8

    # The optional writer (assistant/writer.py): PROVIDER:MODEL for LangChain's init_chat_model
    # ("ollama:llama3.2", "openai:gpt-4o-mini"); empty: the extractive answer, no model.
    llm: str = ""
    llm_base_url: str | None = None
    llm_timeout_s: float = 30.0

    # Service (app.py: the page and the OpenAI-compatible /v1 API on one port)
    model_id: str = "ask-the-article"
    api_key: str = ""
    # comma-separated in the environment: ASSISTANT_CORS_ORIGINS=https://a.example,https://b
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    rate_limit_per_minute: int = 600
    max_request_bytes: int = 64_000

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(o.strip() for o in value.split(",") if o.strip())
        return value

    @field_validator("chroma_url", "llm_base_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return value or None

    def replace(self, **changes: object) -> Settings:
        """A copy with some fields changed (for CLI flags and tests); None changes nothing.
        The copy is validated like the original."""
        given = {k: v for k, v in changes.items() if v is not None}
        unknown = set(given) - set(type(self).model_fields)
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")
        return type(self).model_validate({**self.model_dump(), **given})
