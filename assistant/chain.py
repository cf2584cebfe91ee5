"""One turn of the assistant, read top to bottom:

    guard_in -> condense -> retrieve -> answer -> guard_out

Each stage is a plain function over a ``TurnState``; the chain is their LCEL composition. The
answer stage reads the retrieved sentences with the trained reader (``assistant/reader``), or
answers a question about the document as a whole (``assistant/document.py``).
The CLI, the web page and the eval runner all call ``Assistant.reply``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

from assistant import rails
from assistant.answer import SentenceScorer, abstention, compose_answer, to_sources
from assistant.config import Settings
from assistant.conversation import ConversationStore, condense_followup, small_talk
from assistant.document import answer_about_documents, document_question
from assistant.reader import choose, reader
from assistant.terms import content_terms
from assistant.types import Passage, Reply, Turn


@dataclass(frozen=True)
class Variant:
    """Switches for ablations; the default is the full product."""

    bm25: bool = True
    dense: bool = True
    names: bool = True
    condense: bool = True
    select: bool = True  # sentence selection; off: quote the top passages whole
    reader: bool | None = None  # the trained reader answers; None: as Settings.answerer says


@dataclass(frozen=True)
class TurnState:
    """What one turn knows so far; each stage returns a new one."""

    message: str | bytes
    history: tuple[Turn, ...] = ()
    question: str = ""
    standalone: str = ""
    passages: tuple[Passage, ...] = ()
    names: tuple[str, ...] = ()
    reply: Reply | None = None
    timings: dict[str, float] = field(default_factory=dict)


class Resources:
    """The model, the opened index, BM25 and the name index: built once per process."""

    def __init__(self, settings: Settings) -> None:
        from assistant.embeddings import get_embeddings
        from assistant.index import ensure_index, open_library
        from assistant.retrieval import BM25Index, HybridRetriever, NameIndex

        self.settings = settings
        ensure_index(settings)  # compares hashes only when the index is current
        self.embeddings = get_embeddings()
        self.library = open_library(settings, self.embeddings)
        ordered = sorted(self.library.passages.values(), key=lambda p: (p.doc_id, p.order))
        self.names = NameIndex(list(self.library.documents.values()))
        self.bm25 = BM25Index(ordered)
        self.texts = {doc_id: d.text for doc_id, d in self.library.documents.items()}
        self.scorer = SentenceScorer(self.library.sentences)
        self._retriever = HybridRetriever(
            vectorstore=self.library.vectorstore,
            embeddings=self.embeddings,
            bm25=self.bm25,
            names=self.names,
            passages=self.library.passages,
            k=settings.top_k,
            candidates=settings.candidates,
            rrf_k=settings.rrf_k,
        )

    def sentence_features(self, question: str, passages, names):
        """Candidate sentences of the retrieved passages and their answer features."""
        import numpy as np

        query = np.asarray(self.embeddings.embed_query(question), dtype=np.float32)
        cited = [self.names.names[n] for n in names]
        return dict(
            question=question,
            query_vector=query,
            passages=passages,
            sentence_vectors=self.library.sentence_vectors,
            sentence_rows=self.library.sentence_rows,
            named_passages={pid for c in cited for pid in c.passage_ids},
            name_terms={t for c in cited for alias in c.aliases for t in content_terms(alias)},
        )

    @property
    def reader(self):
        """The trained reader and its calibration, loaded on first use (the default answerer
        never needs it), or None when no model ships."""
        return reader()

    def candidates(self, question: str, passages, names):
        """The retrieved passages' sentences the reader reads (the best ``reader_candidates`` by
        the feature scorer) and their feature rows: what the reader and its decision read."""
        import numpy as np

        from assistant.answer import FEATURES, WEIGHTS

        features = self.sentence_features(question, passages, names)
        sentences, matrix = self.scorer.features(**features)
        keep = self.settings.reader_candidates
        if len(sentences) > keep:
            prior = matrix @ np.asarray([WEIGHTS[f] for f in FEATURES], dtype=np.float32)
            best = sorted(np.argsort(-prior, kind="stable")[:keep].tolist())
            sentences, matrix = [sentences[i] for i in best], matrix[best]
        return sentences, matrix

    def read(self, question: str, passages, names):
        """The trained reader over the candidates, in one batched call, and its decision."""
        model, calibration = self.reader
        sentences, matrix = self.candidates(question, passages, names)
        if not sentences:
            return choose([], [], calibration)
        scores = model.score([(question, s.text) for s in sentences])
        return choose(scores, sentences, calibration, matrix)

    def retriever(self, variant: Variant = Variant()):
        return self._retriever.model_copy(
            update={
                "use_bm25": variant.bm25,
                "use_dense": variant.dense,
                "use_names": variant.names,
            }
        )


@lru_cache(maxsize=4)
def get_resources(settings: Settings) -> Resources:
    """The process-wide resources for these settings, loaded on first use."""
    return Resources(settings)


def _timed(name: str, stage: Callable[[TurnState], TurnState]) -> Callable[[TurnState], TurnState]:
    def run(state: TurnState) -> TurnState:
        started = time.perf_counter()
        out = stage(state)
        out.timings[name] = (time.perf_counter() - started) * 1000
        return out

    run.__name__ = name
    return run


def build_chain(resources: Resources, variant: Variant = Variant()):
    """The turn as an LCEL runnable: TurnState in, Reply out."""
    from langchain_core.runnables import RunnableBranch, RunnableLambda, RunnableSequence

    settings = resources.settings
    retriever = resources.retriever(variant)

    def guard_in(state: TurnState) -> TurnState:
        check = rails.guard_in(
            state.message,
            state.history,
            resources.embeddings.embed_many,
            settings.max_message_chars,
        )
        if check.status == "ok":
            return replace(state, question=check.text)
        status = "invalid" if check.status == "invalid" else "refused"
        reply = Reply(
            question=check.text,
            standalone_question=check.text,
            status=status,
            answer=check.message,
            refusal_reason=check.reason,
        )
        return replace(state, question=check.text, standalone=check.text, reply=reply)

    def condense(state: TurnState) -> TurnState:
        chat = small_talk(state.question)
        if chat is not None:  # a greeting, thanks or "what can you do?" ends the turn here
            reply = Reply(state.question, state.question, "answered", chat)
            return replace(state, standalone=state.question, reply=reply)
        standalone = state.question
        if variant.condense:
            standalone = condense_followup(
                state.question,
                state.history,
                resources.names,
                passages=resources.library.passages,
            )
        return replace(state, standalone=standalone)

    def retrieve(state: TurnState) -> TurnState:
        documents = retriever.invoke(state.standalone)
        passages = tuple(resources.library.passages[d.id] for d in documents)
        names = tuple(documents[0].metadata["names"]) if documents else ()
        return replace(state, passages=passages, names=names)

    def answer(state: TurnState) -> TurnState:
        kind = document_question(state.standalone)
        if kind is not None:  # who wrote it, its title, what it is about
            found = answer_about_documents(kind, resources.library)
            if not found.sources:
                reply = Reply(
                    state.question, state.standalone, "abstained", abstention(found.missing)
                )
            else:
                answer = compose_answer(found.sources, found.lead)
                reply = Reply(state.question, state.standalone, "answered", answer, found.sources)
            return replace(state, reply=reply)
        use_reader = settings.answerer == "reader" if variant.reader is None else variant.reader
        if use_reader and resources.reader is not None:
            chosen = resources.read(state.standalone, state.passages, state.names).sentences
            why = ""
        else:
            chosen, why = score_and_select(state)
        if chosen and not variant.select:
            chosen = tuple(s for p in state.passages[: settings.top_k] for s in p.sentences)
        if not chosen:
            answer = abstention(why)
            return replace(
                state, reply=Reply(state.question, state.standalone, "abstained", answer)
            )
        sources = to_sources(chosen)
        lead = (
            f"Here is what the article reports of {state.names[0]}:"
            if state.names
            else "The article says:"
        )
        reply = Reply(
            state.question, state.standalone, "answered", compose_answer(sources, lead), sources
        )
        return replace(state, reply=reply)

    def score_and_select(state: TurnState) -> tuple[tuple, str]:
        """The feature scorer and its answer checks: the default answerer."""
        features = resources.sentence_features(state.standalone, state.passages, state.names)
        scored = resources.scorer.score(**features)
        selection = resources.scorer.select(
            state.standalone,
            scored,
            settings.max_quotes,
            names_asked=bool(state.names),
            name_terms=features["name_terms"],
        )
        return selection.sentences, selection.reason

    def guard_out(state: TurnState) -> TurnState:
        return replace(state, reply=rails.guard_out(state.reply, resources.texts))

    def timed_reply(state: TurnState) -> Reply:
        state.reply.timings_ms = dict(state.timings)
        return state.reply

    def unless_ended(*stages):
        """Run the stages unless an earlier one already ended the turn with a reply."""
        steps = [RunnableLambda(_timed(stage.__name__, stage)) for stage in stages]
        path = steps[0] if len(steps) == 1 else RunnableSequence(*steps)
        return RunnableBranch((lambda s: s.reply is not None, lambda s: s), path)

    return (
        RunnableLambda(_timed("guard_in", guard_in))
        | unless_ended(condense)
        | unless_ended(retrieve, answer)
        | RunnableLambda(_timed("guard_out", guard_out))
        | RunnableLambda(timed_reply)
    )


class Assistant:
    """The product: a chain plus per-conversation history. Thread-safe."""

    def __init__(self, settings: Settings | None = None, variant: Variant = Variant()) -> None:
        self.settings = settings or Settings()
        self.resources = get_resources(self.settings)
        self.chain = build_chain(self.resources, variant)
        self.conversations = ConversationStore(self.settings.history_turns)

    def reply(self, message: str | bytes, history: Sequence[Turn] = ()) -> Reply:
        """Answer one message given the earlier turns; never raises on bad input."""
        started = time.perf_counter()
        reply = self.chain.invoke(TurnState(message=message, history=tuple(history)))
        reply.timings_ms["total"] = (time.perf_counter() - started) * 1000
        return reply

    def ask(self, message: str | bytes, conversation: str = "default") -> Reply:
        """Answer within a remembered conversation."""
        reply = self.reply(message, self.conversations.history(conversation))
        self.conversations.add(conversation, to_turn(reply))
        return reply


def to_turn(reply: Reply) -> Turn:
    """What the next turn needs to remember of this one."""
    return Turn(
        reply.question,
        reply.standalone_question,
        reply.status,
        tuple(reply.sources),
        dosing=reply.refusal_reason == "dosing",
        reason=reply.refusal_reason,
    )
