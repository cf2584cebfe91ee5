"""The optional writer: a language model turns the chosen quotes into a short answer in prose,
and every sentence it writes is checked before anything is shown.

The model (LangChain's ``init_chat_model``: ``ollama:llama3.2``, ``openai:gpt-4o-mini``, or any
OpenAI-compatible server through ``--llm-base-url``) sees only the question and the numbered
quotes the answer stage chose. A written sentence is kept only if it cites quotes that exist,
its content words and every number in it stand in the quotes it cites, and it carries no dose
figure; the quotes themselves are still shown, verbatim, below the prose. When the model fails,
is slow or too little survives, the extractive answer is shown with a one-line note.
A "partial" reply (not directly answered) reaches it as such and keeps its lead. Refusals,
crisis replies, abstentions and small talk never reach the model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from assistant import rails
from assistant.answer import compose_answer
from assistant.terms import content_terms
from assistant.types import Source

SYSTEM = (
    "You answer a question using only the numbered quotes you are given. Write one to three "
    "short, plain sentences. End every sentence with the number of the quote it rests on, in "
    "square brackets, like [1]. Do not add anything the quotes do not say. Never give a dose "
    "or an amount of any drug."
)
NOT_COVERED = " If the quotes do not answer the question, reply only: NOT COVERED"
# A "partial" reply: the quotes are the closest the documents come, not an answer.
PARTIAL = (
    " These quotes do not answer the question directly: say in one or two sentences what they "
    "do say that comes closest, without claiming it answers the question."
)
MIN_SUPPORT = 0.6  # share of a sentence's content words that must stand in its cited quotes
_CITE = re.compile(r"\[(\d+)\]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=\])\s+(?=[A-Z])")
NOTES = {
    "unavailable": "The writer model could not be reached, so here are the quotes themselves.",
    "slow": "The writer model did not answer in time, so here are the quotes themselves.",
    "empty": "The writer model gave no answer, so here are the quotes themselves.",
    "unsupported": (
        "The written answer did not hold up against the quotes, so here are the quotes themselves."
    ),
}


@dataclass
class Written:
    """What the writer produced and what its checks kept."""

    answer: str  # the reply's text: the checked prose and the quotes, or the extractive answer
    sentences: int = 0  # written by the model
    removed: list[str] = field(default_factory=list)  # dropped by the checks, with why
    fallback: str = ""  # why the extractive answer is shown instead ("" when prose is shown)


def prompt(
    question: str, sources: Sequence[Source], partial: bool = False
) -> list[tuple[str, str]]:
    """The messages: the rules, then the question and the numbered quotes."""
    quotes = "\n".join(f"[{s.id}] {s.quote}" for s in sources)
    # a partial reply is known not to answer directly: the model says what comes closest
    system = SYSTEM + (PARTIAL if partial else NOT_COVERED)
    return [("system", system), ("human", f"Question: {question}\n\nQuotes:\n{quotes}")]


def split_sentences(text: str) -> list[str]:
    """The written text as sentences (a citation closes the sentence before it)."""
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def check_sentence(sentence: str, sources: dict[int, Source]) -> str:
    """Why a written sentence cannot be shown, or "" when it can."""
    cited = [int(n) for n in _CITE.findall(sentence)]
    if not cited:
        return "cites no quote"
    if any(n not in sources for n in cited):
        return "cites a quote that does not exist"
    claim = _CITE.sub("", sentence)
    quoted = " ".join(sources[n].quote for n in cited)
    if rails.contains_dose(claim):
        return "carries a dose figure"
    missing = [n for n in _NUMBER.findall(claim) if n not in quoted]
    if missing:
        return f"states {', '.join(missing)}, which its quotes do not"
    words = content_terms(claim)
    if words and len(words & content_terms(quoted)) / len(words) < MIN_SUPPORT:
        return "says more than its quotes"
    return ""


def checked(text: str, sources: Sequence[Source]) -> tuple[list[str], list[str]]:
    """The sentences that pass, and each removed one with its reason."""
    by_id = {s.id: s for s in sources}
    kept, removed = [], []
    for sentence in split_sentences(text):
        why = check_sentence(sentence, by_id)
        if why:
            removed.append(f"{sentence} ({why})")
        else:
            kept.append(sentence)
    return kept, removed


def compose(prose: Sequence[str], sources: Sequence[Source], lead: str = "") -> str:
    """The lead (a partial reply's "not directly"), the checked prose, then every chosen quote,
    verbatim and numbered."""
    head = f"{lead}\n\n" if lead else ""
    return head + " ".join(prose) + "\n\n" + compose_answer(sources, "From the source:")


def write(
    model, question: str, sources: Sequence[Source], extractive: str, partial_lead: str = ""
) -> Written:
    """Ask the model, check what it wrote; the extractive answer (with a note) on any failure.
    With ``partial_lead`` the reply is a "not directly" one: the model is told so, and the
    lead stays in front of its prose."""
    try:
        messages = prompt(question, sources, partial=bool(partial_lead))
        text = str(model.invoke(messages).content or "").strip()
    except Exception as error:  # noqa: BLE001 - any failure of the model falls back
        why = "slow" if "timeout" in type(error).__name__.lower() else "unavailable"
        return _fallback(extractive, why, f"{type(error).__name__}")
    if not text or text.upper().startswith("NOT COVERED"):
        return _fallback(extractive, "empty")
    kept, removed = checked(text, sources)
    total = len(kept) + len(removed)
    if not kept or len(kept) < len(removed):
        return Written(_with_note(extractive, "unsupported"), total, removed, "unsupported")
    return Written(compose(kept, sources, partial_lead), total, removed)


def _with_note(extractive: str, why: str) -> str:
    return f"_{NOTES[why]}_\n\n{extractive}"


def _fallback(extractive: str, why: str, detail: str = "") -> Written:
    return Written(_with_note(extractive, why), fallback=why + (f": {detail}" if detail else ""))


def chat_model(spec: str, base_url: str | None, timeout_s: float, api_key: str | None = None):
    """The chat model of ``PROVIDER:MODEL`` through LangChain's ``init_chat_model``."""
    from langchain.chat_models import init_chat_model

    provider, _, name = spec.partition(":")
    if not name:
        raise ValueError(f"--llm wants PROVIDER:MODEL (such as ollama:llama3.2), not {spec!r}")
    options: dict = {"temperature": 0, "max_tokens": 200}
    if provider == "openai":
        options |= {"timeout": timeout_s, "max_retries": 0, "api_key": api_key or "not-needed"}
        # langchain-openai sends max_completion_tokens, which many OpenAI-compatible servers
        # (llama.cpp's among them) ignore; max_tokens in the body bounds them too
        options["extra_body"] = {"max_tokens": options["max_tokens"]}
        if base_url:
            options["base_url"] = base_url
    elif provider == "ollama":
        options = {"temperature": 0, "num_predict": 200, "client_kwargs": {"timeout": timeout_s}}
        if base_url:
            options["base_url"] = base_url
    return init_chat_model(name, model_provider=provider, **options)
