"""assistant/writer.py: what the model wrote is checked sentence by sentence (a fake model)."""

from __future__ import annotations

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableLambda

from assistant import writer
from assistant.types import Source

QUOTES = [
    Source(1, "Psilocybin sessions are shorter, about four hours instead of six.", 0, 66, "s"),
    Source(2, "Her pain went away and has not returned.", 70, 110, "s"),
]
EXTRACTIVE = "The article says:\n\n> quote [1]"


def model(text: str | Exception):
    def answer(messages):
        if isinstance(text, Exception):
            raise text
        return AIMessage(content=text)

    return RunnableLambda(answer)


def test_the_prompt_holds_only_the_question_and_the_numbered_quotes():
    (_, system), (_, human) = writer.prompt("How long?", QUOTES)
    assert "[n]" not in system and "[1]" in system
    assert human.startswith("Question: How long?") and "[2] Her pain went away" in human


def test_supported_cited_sentences_are_shown_with_the_quotes():
    written = writer.write(
        model(
            "Psilocybin sessions are shorter, about four hours [1]. Her pain has not returned [2]."
        ),
        "q",
        QUOTES,
        EXTRACTIVE,
    )
    assert not written.fallback and written.sentences == 2 and not written.removed
    prose, quotes = written.answer.split("\n\n", 1)
    assert prose.endswith("[2].") and "> Her pain went away and has not returned. [2]" in quotes


def test_a_sentence_without_a_citation_or_with_a_missing_one_is_removed():
    text = "Psilocybin sessions last about four hours [1]. They cure everything. It is shorter [7]."
    kept, removed = writer.checked(text, QUOTES)
    assert kept == ["Psilocybin sessions last about four hours [1]."]
    assert [r.rsplit("(", 1)[1] for r in removed] == [
        "cites no quote)",
        "cites a quote that does not exist)",
    ]


def test_numbers_and_words_the_quotes_lack_are_removed():
    by_id = {s.id: s for s in QUOTES}
    assert "states 3" in writer.check_sentence("Sessions last 3 hours [1].", by_id)
    assert "more than its quotes" in writer.check_sentence(
        "Regulators approved psilocybin nationwide yesterday [1].", by_id
    )
    assert writer.check_sentence("Psilocybin sessions are shorter [1].", by_id) == ""


def test_a_dose_in_a_written_sentence_is_never_shown():
    by_id = {1: Source(1, "They took 120 mg of MDMA.", 0, 25, "s")}
    assert writer.check_sentence("They took 120 mg [1].", by_id) == "carries a dose figure"


def test_failures_fall_back_to_the_quotes_with_a_note():
    down = writer.write(model(ConnectionError("refused")), "q", QUOTES, EXTRACTIVE)
    assert down.fallback == "unavailable: ConnectionError" and down.answer.endswith(EXTRACTIVE)
    assert writer.write(model(""), "q", QUOTES, EXTRACTIVE).fallback == "empty"
    assert writer.write(model("NOT COVERED"), "q", QUOTES, EXTRACTIVE).fallback == "empty"
    bad = writer.write(model("Everything is fine. Nothing hurts."), "q", QUOTES, EXTRACTIVE)
    assert bad.fallback == "unsupported" and bad.answer.startswith("_The written answer")


def test_a_provider_without_a_model_is_a_clear_error():
    import pytest

    with pytest.raises(ValueError, match="PROVIDER:MODEL"):
        writer.chat_model("gemma", None, 5)


def test_a_partial_reply_is_written_as_one_and_keeps_its_lead():
    seen = []

    def answer(messages):
        seen.append(messages)
        return AIMessage(content="Psilocybin sessions are shorter, about four hours [1].")

    lead = "The article doesn't answer this directly. The closest it comes:"
    written = writer.write(RunnableLambda(answer), "q", QUOTES, EXTRACTIVE, partial_lead=lead)
    assert "not answer the question directly" in seen[0][0][1]
    assert written.answer.startswith(lead + "\n\nPsilocybin sessions are shorter")
    assert "NOT COVERED" not in seen[0][0][1]  # a partial reply never asks for it
    assert "directly" not in writer.prompt("q", QUOTES)[0][1]
    assert "NOT COVERED" in writer.prompt("q", QUOTES)[0][1]
