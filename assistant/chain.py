"""One turn of the assistant, read top to bottom:

    guard_in -> condense -> retrieve -> answer -> decide -> [write] -> guard_out

Each stage is an object with one method over a ``TurnState`` (``assistant/stages.py``); the
chain is their LCEL composition, and a stage that replies ends the turn early (only the
writer, which passes anything but an answer through, and ``guard_out`` run after it). The answer
stage has an answerer (the feature scorer or the trained reader) rank the candidate sentences,
or answers a question about the documents as a whole; ``decide`` turns any answerer's ranking
into a calibrated confidence and the status that follows: answered, partial or abstained.
The CLI, the web page, the API and the eval runner all call ``Assistant.reply``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.config import Settings
from assistant.history import ConversationStore, to_turn
from assistant.resources import Resources, get_resources
from assistant.stages import (
    Answer,
    Condense,
    Decide,
    GuardIn,
    GuardOut,
    Retrieve,
    Stage,
    TurnState,
    Write,
)
from assistant.types import Reply, Turn
from assistant.writer import chat_model


@dataclass(frozen=True)
class Variant:
    """Switches for ablations; the default is the full product."""

    bm25: bool = True
    dense: bool = True
    names: bool = True
    condense: bool = True
    select: bool = True  # sentence selection; off: quote the top passages whole
    answerer: str | None = None  # "scorer", "reader"; None: as Settings.answerer says


def stages(resources: Resources, variant: Variant = Variant()) -> list[Stage]:
    """The turn's stages, in order, for this variant."""
    settings = resources.settings
    answerer = variant.answerer or settings.answerer
    retriever = resources.retriever(variant)
    steps: list[Stage] = [
        GuardIn(resources),
        Condense(resources, rewrite=variant.condense),
        Retrieve(resources, retriever),
        Answer(resources, answerer),
        Decide(resources, answerer, whole_passages=not variant.select),
    ]
    if settings.llm:
        model = chat_model(settings.llm, settings.llm_base_url, settings.llm_timeout_s)
        steps.append(Write(model, settings.llm))
    return [*steps, GuardOut(resources)]


def _timed(stage: Stage):
    def run(state: TurnState) -> TurnState:
        started = time.perf_counter()
        out = stage(state)
        out.timings[stage.name] = (time.perf_counter() - started) * 1000
        return out

    run.__name__ = stage.name
    return run


def build_chain(steps: Sequence[Stage]):
    """The turn as an LCEL runnable, TurnState in, Reply out: each stage runs unless an earlier
    one already replied, except those marked ``after_reply`` (the writer, the output guard)."""
    from langchain_core.runnables import RunnableBranch, RunnableLambda

    def step(stage: Stage):
        if stage.after_reply:
            return RunnableLambda(_timed(stage))
        return RunnableBranch((lambda s: s.reply is not None, lambda s: s), _timed(stage))

    def timed_reply(state: TurnState) -> Reply:
        state.reply.timings_ms = dict(state.timings)
        return state.reply

    chain = RunnableLambda(_timed(steps[0]))
    for stage in steps[1:]:
        chain = chain | step(stage)
    return chain | RunnableLambda(timed_reply)


class Assistant:
    """The product: a chain plus per-conversation history. Thread-safe."""

    def __init__(self, settings: Settings | None = None, variant: Variant = Variant()) -> None:
        self.settings = settings or Settings()
        self.resources = get_resources(self.settings)
        self.profile = self.resources.profile
        self.chain = build_chain(stages(self.resources, variant))
        self.conversations = ConversationStore(self.settings.history_turns)

    def warm_up(self) -> None:
        """Load what the first turns would load on demand (the answerer, the decision, the
        learned rail, the query encoder's first call) with one question and one follow-up of the
        corpus's examples: a server calls this before it opens its port."""
        first = self.profile.examples[0] if self.profile.examples else "What is this about?"
        self.reply("And why?", (to_turn(self.reply(first)),))

    def reply(self, message: str | bytes, history: Sequence[Turn] = ()) -> Reply:
        """Answer one message given the earlier turns; never raises on bad input."""
        started = time.perf_counter()
        reply = self.chain.invoke(TurnState(message=message, history=tuple(history)))
        reply.timings_ms["total"] = (time.perf_counter() - started) * 1000
        return reply

    def ask(self, message: str | bytes, conversation: str = "default") -> Reply:
        """Answer within a remembered conversation."""
        reply = self.reply(message, self.conversations.history(conversation))
        self.conversations.add(conversation, reply)
        return reply
