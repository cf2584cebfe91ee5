"""The stages of a turn. Each is an object with one method, ``TurnState -> TurnState``, behind
the small ``Stage`` protocol, so a stage can be swapped (the reader for the scorer, a writer
after the answer) without editing the chain. A stage that ends the turn sets ``state.reply``;
the chain then runs only the stages marked ``after_reply`` (the writer, the output guard)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import Protocol

from assistant import rails, writer
from assistant.answer import compose_answer, to_sources
from assistant.answerers import Candidates
from assistant.condense import condense_followup
from assistant.decide import decide, load_calibrators
from assistant.resources import Resources
from assistant.types import Passage, Reply, Turn


@dataclass(frozen=True)
class TurnState:
    """What one turn knows so far; each stage returns a new one."""

    message: str | bytes
    history: tuple[Turn, ...] = ()
    question: str = ""
    route: str = ""  # the kind of turn (assistant/routes/routes.toml)
    kind: str = ""  # what a document question asks of the document (author, title, ...)
    standalone: str = ""
    passages: tuple[Passage, ...] = ()
    names: tuple[str, ...] = ()
    candidates: Candidates | None = None  # the answer stage's, for the decision
    ranking: tuple[tuple[int, float], ...] = ()  # the answerer's (candidate, log-odds), best first
    reply: Reply | None = None
    timings: dict[str, float] = field(default_factory=dict)


class Stage(Protocol):
    """One step of the turn; ``name`` keys its timing. A stage with ``after_reply`` also runs
    once an earlier stage has replied (the writer, the output guard)."""

    name: str
    after_reply: bool

    def __call__(self, state: TurnState) -> TurnState: ...


class GuardIn:
    """The input rails: bad input, dosing, crisis, emergencies, medical advice, supply, harm."""

    name = "guard_in"
    after_reply = False

    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        # one embed function for the stage's life (the dosing backstop caches its reference
        # vectors per function), timing each call into the running turn's timings
        self._turn = threading.local()
        self._embed = _timed_embed(resources.embeddings.embed_many, self._turn)

    def __call__(self, state: TurnState) -> TurnState:
        self._turn.timings = state.timings
        try:
            return self._guard(state, self._embed)
        finally:
            self._turn.timings = None

    def _guard(self, state: TurnState, embed) -> TurnState:
        limit = self.resources.settings.max_message_chars
        profile = self.resources.profile
        offer = {"source": profile.source, "topics": profile.covers}
        check = rails.guard_in(state.message, state.history, embed, limit, offer)
        if check.status == "ok":
            return replace(state, question=check.text)
        status = "invalid" if check.status == "invalid" else "refused"
        reply = Reply(
            check.text,
            check.text,
            status,
            check.message,
            refusal_reason=check.reason,
            route="refused",
        )
        return replace(
            state, question=check.text, standalone=check.text, route="refused", reply=reply
        )


def _timed_embed(embed, turn: threading.local):
    """``embed`` that adds its time to the running turn's ``timings["embed"]``: the message's
    vector is shared with retrieval (the query cache), so its cost is shown apart from the
    rails'."""

    def timed(texts):
        started = time.perf_counter()
        try:
            return embed(texts)
        finally:
            timings = getattr(turn, "timings", None)
            if timings is not None:
                spent = (time.perf_counter() - started) * 1000
                timings["embed"] = timings.get("embed", 0.0) + spent

    return timed


class Condense:
    """A follow-up becomes a standalone question."""

    name = "condense"
    after_reply = False

    def __init__(self, resources: Resources, rewrite: bool = True) -> None:
        self.resources = resources
        self.rewrite = rewrite

    def __call__(self, state: TurnState) -> TurnState:
        profile = self.resources.profile
        if not self.rewrite:
            return replace(state, standalone=state.question)
        standalone = condense_followup(
            state.question,
            state.history,
            self.resources.names,
            passages=self.resources.library.passages,
            terms=profile.terms,
        )
        return replace(state, standalone=standalone)


class Retrieve:
    """Hybrid retrieval (dense, BM25, the name index) of the standalone question's passages."""

    name = "retrieve"
    after_reply = False

    def __init__(self, resources: Resources, retriever) -> None:
        self.passages = resources.library.passages
        self.retriever = retriever

    def __call__(self, state: TurnState) -> TurnState:
        documents = self.retriever.invoke(state.standalone)
        passages = tuple(self.passages[d.id] for d in documents)
        names = tuple(documents[0].metadata["names"]) if documents else ()
        return replace(state, passages=passages, names=names)


class Answer:
    """The candidate sentences of the retrieved passages, ranked by the answerer (the feature
    scorer or the trained reader, ``assistant/answerers.py``) for the decision."""

    name = "answer"
    after_reply = False

    def __init__(self, resources: Resources, answerer: str | None = None) -> None:
        self.resources = resources
        self.answerer = resources.answerer(answerer)

    def __call__(self, state: TurnState) -> TurnState:
        candidates = self.resources.candidates(state.standalone, state.passages, state.names)
        ranking = tuple(self.answerer.rank(candidates))
        return replace(state, candidates=candidates, ranking=ranking)


class Decide:
    """One calibrated confidence for any answerer's ranking, and the status it gives:
    answered, partial ("not directly; the closest it comes") or abstained
    (``assistant/decide.py``). ``whole_passages`` quotes the top passages whole."""

    name = "decide"
    after_reply = False

    def __init__(
        self, resources: Resources, answerer: str | None = None, whole_passages: bool = False
    ) -> None:
        self.resources = resources
        self.calibrator = load_calibrators()[resources.answerer(answerer).name]
        self.whole_passages = whole_passages

    def __call__(self, state: TurnState) -> TurnState:
        profile = self.resources.profile
        if state.candidates is None:
            return reply_with(state, "abstained", profile.abstention())
        found = decide(
            state.candidates, list(state.ranking), self.calibrator, self.resources.scorer
        )
        sentences = found.sentences
        if found.status == "answered" and self.whole_passages:
            top = state.passages[: self.resources.settings.top_k]
            sentences = tuple(s for p in top for s in p.sentences)
        if found.status == "abstained":
            answer = profile.abstention(found.reason)
            return reply_with(state, "abstained", answer, confidence=found.confidence)
        sources = to_sources(sentences)
        if found.status == "partial":
            lead = profile.partial_lead(found.reason)
        else:
            lead = profile.lead(state.names[0] if state.names else None)
        answer = compose_answer(sources, lead)
        return reply_with(state, found.status, answer, sources, confidence=found.confidence)


def reply_with(state: TurnState, status, answer: str, sources=(), confidence=None) -> TurnState:
    """The state with its reply: the turn's question, standalone question and route."""
    reply = Reply(
        state.question,
        state.standalone,
        status,
        answer,
        list(sources),
        confidence=confidence,
        route=state.route,
    )
    return replace(state, reply=reply)


class Write:
    """The optional writer: prose from the chosen quotes, each sentence checked
    (``assistant/writer.py``). Only a reply with quotes (answered or partial) reaches the
    model; a partial one keeps its "not directly" lead."""

    name = "write"
    after_reply = True

    def __init__(self, model, model_id: str) -> None:
        self.model = model
        self.model_id = model_id

    def __call__(self, state: TurnState) -> TurnState:
        reply = state.reply
        if reply is None or reply.status not in ("answered", "partial") or not reply.sources:
            return state
        # a partial reply's first paragraph is its "not directly" lead (Decide)
        lead = reply.answer.split("\n\n", 1)[0] if reply.status == "partial" else ""
        question = reply.standalone_question
        written = writer.write(self.model, question, reply.sources, reply.answer, lead)
        checks = {
            "sentences": written.sentences,
            "removed": written.removed,
            "fallback": written.fallback,
        }
        shown = self.model_id if not written.fallback else "extractive"
        reply = replace(reply, answer=written.answer, writer=shown, writer_checks=checks)
        return replace(state, reply=reply)


class GuardOut:
    """The output rail: every quote verified at its offsets, no dose figure, the disclaimer."""

    name = "guard_out"
    after_reply = True

    def __init__(self, resources: Resources) -> None:
        self.resources = resources

    def __call__(self, state: TurnState) -> TurnState:
        texts, disclaimer = self.resources.texts, self.resources.profile.disclaimer
        return replace(state, reply=rails.guard_out(state.reply, texts, disclaimer))
