"""The route stage, and the stages that answer the routes needing no retrieval: small talk, a
question about the documents as a whole, a request the assistant does not do."""

from __future__ import annotations

from dataclasses import replace

from assistant.answer import compose_answer
from assistant.answer_checks import is_task
from assistant.document import answer_about_documents
from assistant.resources import Resources
from assistant.smalltalk import small_talk, small_talk_kind
from assistant.stages import TurnState, reply_with


class Route:
    """Decides the kind of turn from the standalone question: small talk, a request the
    assistant does not do, a question about the documents as a whole, or a question for
    retrieval. The small-talk and task patterns decide first; the learned router
    (``router.py``) decides the rest."""

    name = "route"
    after_reply = False

    def __init__(self, resources: Resources) -> None:
        self.resources = resources

    def __call__(self, state: TurnState) -> TurnState:
        if small_talk_kind(state.question) is not None:
            return replace(state, route="small_talk")
        if is_task(state.standalone):
            return replace(state, route="task")
        decision = self.resources.router.route(state.standalone)
        return replace(state, route=decision.route, kind=decision.kind)


class SmallTalk:
    """A greeting, thanks, goodbye or "what can you do?": the profile's words."""

    name = "small_talk"
    after_reply = False

    def __init__(self, resources: Resources) -> None:
        self.profile = resources.profile

    def __call__(self, state: TurnState) -> TurnState:
        words = small_talk(state.question, self.profile) or self.profile.about()
        return reply_with(state, "answered", words)


class AboutDocument:
    """Who wrote it, its title, what it is about, its argument, its resources, its disclaimer,
    its sections, its date: answered from the documents themselves (``assistant/document.py``).
    When they hold no such thing (no date in the header, no list of resources), the turn goes
    on to the retrieval stages that follow it on this route: a passage may still answer."""

    name = "document"
    after_reply = False

    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        self._answers: dict = {}  # kind -> its answer: the documents do not change in a process

    def __call__(self, state: TurnState) -> TurnState:
        found = self._answers.get(state.kind)
        if found is None:
            found = answer_about_documents(state.kind, self.resources.library)
            self._answers[state.kind] = found
        if not found.sources:
            return state
        answer = compose_answer(found.sources, found.lead)
        return reply_with(state, "answered", answer, found.sources)


class Decline:
    """A request to write, translate or role-play: the assistant only quotes."""

    name = "decline"
    after_reply = False

    def __init__(self, resources: Resources) -> None:
        self.profile = resources.profile

    def __call__(self, state: TurnState) -> TurnState:
        why = "I only answer questions about it, with its own words"
        return reply_with(state, "abstained", self.profile.abstention(why))
