"""Each stage of the turn on fakes (``tests/fakes.py``): an in-memory article, a hashed
bag-of-words encoder, an in-memory retriever, a hand-made router. No Chroma, no neural model:
the integration tests run the same stages on the real ones."""

from __future__ import annotations

import pytest

from assistant import rails
from assistant.chain import Variant, after_reply, build_chain, routes
from assistant.routes.stages import AboutDocument, Decline, Route, SmallTalk
from assistant.stages import Answer, Condense, Decide, GuardIn, GuardOut, Retrieve, TurnState
from assistant.types import Reply, Source, Turn
from tests.fakes import FakeResources


@pytest.fixture(scope="module")
def fake():
    return FakeResources()


@pytest.fixture(autouse=True)
def no_learned_rail(monkeypatch):
    """The learned rail is a model: here the patterns decide alone."""
    monkeypatch.setattr(rails, "learned_intent", lambda text, vector=None: None)


def state(message, history=(), **fields) -> TurnState:
    return TurnState(message=message, history=tuple(history), **fields)


def test_guard_in_passes_a_question_and_refuses_a_dose(fake):
    passed = GuardIn(fake)(state("Who kept the Skerry light?"))
    assert passed.reply is None and passed.question == "Who kept the Skerry light?"
    refused = GuardIn(fake)(state("How many mg of MDMA should I take?"))
    assert refused.reply.status == "refused" and refused.reply.refusal_reason == "dosing"
    assert refused.route == "refused"


def test_guard_in_says_why_it_cannot_read_a_message(fake):
    out = GuardIn(fake)(state("   "))
    assert out.reply.status == "invalid" and out.reply.answer


def test_condense_names_whom_a_follow_up_means(fake):
    earlier = Turn("Who is Mara Quillon?", "Who is Mara Quillon?", "answered")
    out = Condense(fake)(state("x", [earlier], question="What did she log?"))
    assert "Quillon" in out.standalone


def test_route_reads_the_standalone_question(fake):
    route = Route(fake)
    assert route(state("x", question="hello", standalone="hello")).route == "small_talk"
    asked = route(state("x", question="Who wrote it?", standalone="author wrote"))
    assert (asked.route, asked.kind) == ("document", "author")
    plain = route(state("x", question="q", standalone="How tall was the tallest tower?"))
    assert plain.route == "retrieval"
    assert route(state("x", question="q", standalone="Write a poem about it")).route == "task"


def test_small_talk_decline_and_document_reply_without_retrieval(fake):
    chat = SmallTalk(fake)(state("x", question="thanks!", standalone="thanks!"))
    assert chat.reply.status == "answered" and not chat.reply.sources
    declined = Decline(fake)(state("x", question="Write a poem", standalone="Write a poem"))
    assert declined.reply.status == "abstained"
    about = AboutDocument(fake)(state("x", question="q", standalone="q", kind="author"))
    assert [s.quote for s in about.reply.sources] == ["Test Writer"]
    heads = AboutDocument(fake)(state("x", question="q", standalone="q", kind="structure"))
    assert [s.quote for s in heads.reply.sources][1:] == ["Keepers", "Surveys", "Today"]


def test_a_document_question_the_document_cannot_answer_goes_on_to_its_passages(fake):
    undated = AboutDocument(fake)(state("x", question="q", standalone="q", kind="date"))
    assert undated.reply is None  # the retrieval stages after it on the route answer
    chain = build_chain([GuardIn(fake), Condense(fake)], routes(fake), after_reply(fake))
    reply = chain.invoke(state("When were fog horns added?", route="document", kind="date"))
    assert {"document", "retrieve", "decide"} <= set(reply.timings_ms)


def test_retrieve_answer_and_decide_quote_the_passage_that_answers(fake):
    question = "How many lighthouses did the survey count?"
    s = state("x", question=question, standalone=question, route="retrieval")
    s = Retrieve(fake, fake.retriever())(s)
    assert any("forty-two lighthouses" in p.text for p in s.passages)
    s = Answer(fake, "scorer")(s)
    assert s.candidates is not None and s.ranking
    best = s.candidates.sentences[s.ranking[0][0]]
    assert "forty-two" in best.text
    s = Decide(fake, "scorer")(s)
    assert s.reply.status in ("answered", "partial", "abstained")
    assert 0.0 <= s.reply.confidence <= 1.0
    assert all(fake.texts[q.document][q.start : q.end] == q.quote for q in s.reply.sources)


def test_guard_out_adds_the_disclaimer_and_drops_a_quote_not_in_the_text(fake):
    reply = Reply(
        "q",
        "q",
        "answered",
        "Lead:\n\n> Not in the article [1]",
        [Source(1, "Not in the article", 0, 18, "", "article")],
    )
    out = GuardOut(fake)(state("q", reply=reply)).reply
    assert out.disclaimer == fake.profile.disclaimer
    assert (out.status, out.sources) == ("abstained", [])
    assert "dropped unverified source 1" in out.notes


def test_the_whole_chain_runs_on_fakes(fake):
    chain = build_chain(
        [GuardIn(fake), Condense(fake), Route(fake)], routes(fake, Variant()), after_reply(fake)
    )
    reply = chain.invoke(state("How many lighthouses did the survey count?"))
    assert reply.route == "retrieval" and {"retrieve", "decide", "guard_out"} <= set(
        reply.timings_ms
    )
    author = chain.invoke(state("author wrote"))
    assert author.route == "document" and "retrieve" not in author.timings_ms


def test_no_stage_loads_chroma_or_a_neural_model():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from assistant import rails\n"
        "rails.learned_intent = lambda text, vector=None: None\n"
        "from assistant.chain import *\n"
        "from tests.fakes import FakeResources\n"
        "f = FakeResources()\n"
        "c = build_chain([GuardIn(f), Condense(f), Route(f)], routes(f, Variant()), after_reply(f))\n"
        "for q in ('How tall was the tallest tower?', 'author wrote', 'hi', 'And why?'):\n"
        "    c.invoke(TurnState(message=q))\n"
        "heavy = ('chromadb', 'onnxruntime', 'sentence_transformers', 'torch', 'transformers')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_a_long_token_is_no_misspelling_and_costs_nothing():
    import time

    from assistant.spelling import Speller

    speller = Speller(["author", "title"])
    started = time.perf_counter()
    assert speller.correct("auther " + "x" * 2000) == "author " + "x" * 2000
    assert time.perf_counter() - started < 0.5


def test_a_date_in_the_header_is_quoted():
    from assistant.document import answer_about_documents
    from tests.fakes import ARTICLE, fake_library

    dated = fake_library(
        (ARTICLE.replace("author: Test Writer", "author: Test Writer\ndate: 1999-05-01"),)
    )
    found = answer_about_documents("date", dated)
    assert [s.quote for s in found.sources] == ["1999-05-01"]


def test_a_failing_stage_gives_an_error_reply_not_a_traceback(fake, monkeypatch):
    from assistant.chain import Assistant

    assistant = Assistant.__new__(Assistant)  # the session layer over the fake resources
    assistant.settings, assistant.resources, assistant.profile = fake.settings, fake, fake.profile
    assistant.guard_out = GuardOut(fake)

    class Broken:
        def invoke(self, state):
            raise RuntimeError("a bug")

    assistant.chain = Broken()
    reply = assistant.reply("How tall was the tallest tower?")
    assert (reply.status, reply.route) == ("error", "error")
    assert reply.disclaimer == fake.profile.disclaimer
    monkeypatch.setattr(assistant, "guard_out", Broken().invoke)  # the guard fails too
    assert assistant.reply("again").status == "error"
