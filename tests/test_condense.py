"""assistant/condense.py, subject.py and genders.py: follow-ups made standalone.

Runs on the real name index and profile of the shipped corpus (no model, no index needed)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.condense import condense_followup
from assistant.config import ROOT
from assistant.genders import infer_genders
from assistant.profile import corpus_profile
from assistant.subject import find_subject, topic_of
from assistant.types import Source, Turn


@pytest.fixture(scope="module")
def passages(documents):
    return {p.id: p for d in documents for p in d.passages}


def turn(question: str, standalone: str | None = None, status="answered", quotes=()) -> Turn:
    sources = tuple(Source(i, q, 0, len(q), "s") for i, q in enumerate(quotes, 1))
    return Turn(question, standalone or question, status, sources)


TERMS = corpus_profile(ROOT / "corpus").terms


def condense(question, *previous, names, passages=None):
    history = [p if isinstance(p, Turn) else turn(p) for p in previous]
    return condense_followup(question, history, names, passages=passages, terms=TERMS)


# ------------------------------------------------------------------------------------------
# Pronouns


@pytest.mark.parametrize(
    ("previous", "question", "expected"),
    [
        ("Who is James Close?", "Where does he work?", "Where does James Close work?"),
        ("Who is Peter Hendricks?", "Where is he a professor?", "Where is Peter Hendricks a professor?"),
        ("Who is Callie?", "What happened to her chronic pain?", "What happened to Callie's chronic pain?"),
        ("Who is Callie?", "When did she first try MDMA?", "When did Callie first try MDMA?"),
        ("Who is Ben Sassa?", "what's his podcast about", "What's Ben Sassa's podcast about?"),
        ("Who wrote I Feel Love?", "What does she say about MDMA?", "What does Rachel Nuwer say about MDMA?"),
        ("Who is Gul Dolen?", "Whose podcast was she interviewed on?", "Whose podcast was Gul Dolen interviewed on?"),
    ],
)  # fmt: skip
def test_personal_pronouns_become_the_person(names, previous, question, expected):
    assert condense(question, previous, names=names) == expected


def test_object_her_is_not_made_possessive(names):
    assert condense("Who helped her?", "Who is Callie?", names=names) == "Who helped Callie?"


def test_he_and_she_pick_the_person_of_that_gender(names, passages):
    history = ("Who is Callie?", "Who is James Close?")
    # the newest person is James Close, but "she" is Callie (the article says "she" of her)
    assert condense("What did she remember?", *history, names=names, passages=passages) == (
        "What did Callie remember?"
    )
    assert condense("Where does he work?", *history, names=names, passages=passages) == (
        "Where does James Close work?"
    )


def test_genders_are_read_off_the_article(names, passages):
    text = "\n\n".join(p.text for p in sorted(passages.values(), key=lambda p: p.order))
    genders = infer_genders([text], names)
    assert genders["James Close"] == "m"
    assert genders["Peter Hendricks"] == "m"
    assert genders["Callie"] == "f"
    assert genders["Rachel Nuwer"] == "f"
    assert "MAPS" not in genders  # an organisation, not a person


def test_et_al_groups_become_they(names):
    assert condense("What were the two processes they identified?", "What did Close et al. find?", names=names) == (
        "What were the two processes Close et al. identified?"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("previous", "question", "expected"),
    [
        ("What does MDMA stand for?", "When was it banned?", "When was MDMA banned?"),
        ("What is fibromyalgia?", "Who is running a trial on it?", "Who is running a trial on fibromyalgia?"),
        ("What did the microdosing case series find?", "How many patients were in it?",
         "How many patients were in the microdosing case series?"),
        ("Tell me about Hendricks's fibromyalgia trial.", "Have the results of that study been published?",
         "Have the results of Hendricks's fibromyalgia trial been published?"),
        ("What are the risks of MDMA?", "Where can I read more about them?",
         "Where can I read more about the risks of MDMA?"),
        ("What are the risks of MDMA?", "Why is dancing on it dangerous?", "Why is dancing on MDMA dangerous?"),
        ("How long is a psilocybin session?", "Do people see visions during it?",
         "Do people see visions during a psilocybin session?"),
        ("What did Close et al. find?", "Was that study about PRT?", "Was Close et al.'s study about PRT?"),
        ("Tell me about the complex system article on chronic pain.", "What do the authors conclude?",
         "What do the authors of the complex system article on chronic pain conclude?"),
    ],
)  # fmt: skip
def test_things_it_that_study_them(names, previous, question, expected):
    assert condense(question, previous, names=names) == expected


def test_expletive_it_is_left_alone(names):
    question = "Is it safe to mix MDMA with alcohol?"
    assert condense(question, "What does MDMA stand for?", names=names) == question


# ------------------------------------------------------------------------------------------
# Ellipsis and fragments


@pytest.mark.parametrize(
    ("previous", "question", "expected"),
    [
        ("How long is an MDMA session?", "and psilocybin?", "How long is a psilocybin session?"),
        ("Who is Peter Hendricks?", "what about Castellanos?", "Who is Joel Castellanos?"),
        ("What did Close et al. find?", "What about Hendricks?", "What did Peter Hendricks find?"),
        ("What did the review of psychedelics for headache conclude?", "And the small migraine study?",
         "What did the small migraine study conclude?"),
        ("What is Positive Reframing in Close's study?", "and somatic presence?",
         "What is somatic presence in Close's study?"),
        ("Is the FDA going to approve MDMA?", "For what condition?",
         "For what condition is the FDA going to approve MDMA?"),
        ("Did Callie try MDMA?", "When?", "When did Callie try MDMA?"),
    ],
)  # fmt: skip
def test_ellipsis_and_fragments_complete_the_previous_question(names, previous, question, expected):
    assert condense(question, previous, names=names) == expected


def test_and_before_a_whole_question_is_not_ellipsis(names):
    out = condense("And what do they do right before the session starts?",
                   "What happens in the prep sessions before MDMA therapy?", names=names)  # fmt: skip
    assert out.startswith("What do they do right before the session starts")
    assert "prep sessions before MDMA therapy" in out


# ------------------------------------------------------------------------------------------
# Carry-over, and what stays unchanged


def test_topic_carries_over_to_a_question_that_points_back(names):
    out = condense("What's the usual ratio between the two?",
                   "What does the MAPS protocol say about MDMA sessions?", names=names)  # fmt: skip
    assert out == "What's the usual ratio between the two, in the MAPS protocol?"


def test_unresolvable_reference_keeps_the_previous_question_as_context(names):
    out = condense("Which journal was it published in?",
                   "What did Hendricks co-author about headaches?", names=names)  # fmt: skip
    assert out == (
        "Which journal was it published in? "
        "(following up on: What did Hendricks co-author about headaches?)"
    )


def test_carry_over_reads_through_earlier_turns(names):
    history = [
        turn("How long is an MDMA session?"),
        turn("and psilocybin?", "How long is a psilocybin session?"),
    ]
    assert condense_followup("Do people see visions during it?", history, names, terms=TERMS) == (
        "Do people see visions during a psilocybin session?"
    )


@pytest.mark.parametrize(
    "question",
    [
        "What did Close et al. find?",
        "How long is an MDMA-assisted therapy session?",
        "Who is Peter Hendricks?",
        "Is MDMA neurotoxic?",
        "What is the capital of Australia?",
        "Where does Peter Hendricks work?",
        "What happened to Callie's chronic pain?",
    ],
)
def test_self_contained_questions_are_unchanged(names, question):
    assert condense(question, "Who is James Close?", names=names) == question


def test_no_history_no_change(names):
    assert condense_followup("Where does he work?", [], names) == "Where does he work?"


def test_small_talk_and_invalid_turns_are_skipped(names):
    history = [turn("Who is Callie?"), turn("thanks!"), turn("", status="invalid")]
    assert condense_followup("What happened to her pain?", history, names) == (
        "What happened to Callie's pain?"
    )


def test_only_the_last_few_turns_are_read(names):
    history = [turn("Who is James Close?")] + [turn("What is MDMA?")] * 5
    assert condense_followup("Where does he work?", history, names, window=4) != (
        "Where does James Close work?"
    )
    assert condense_followup("Where does he work?", history, names, window=6) == (
        "Where does James Close work?"
    )


def test_subject_and_topic(names):
    subject = find_subject([turn("What did Close et al. find?")], names)
    assert subject.person.name == "James Close" and subject.mention == "Close et al."
    assert topic_of("What are the risks of MDMA?").plural
    assert topic_of("What did the microdosing case series find?").text == (
        "the microdosing case series"
    )
    assert not topic_of("What did the microdosing case series find?").plural
    assert topic_of("Where does he work?") is None


@settings(max_examples=200, deadline=None)
@given(
    question=st.text(max_size=120),
    previous=st.lists(st.text(max_size=80), max_size=4),
)
def test_condense_never_raises_and_never_loses_the_question(names, question, previous):
    history = [turn(p) for p in previous]
    out = condense_followup(question, history, names, terms=TERMS)
    assert isinstance(out, str)
    if not history:
        assert out == question


def test_the_document_itself_is_no_topic():
    topic = topic_of("What does the article say about the risks of MDMA?")
    assert topic is not None and topic.text == "the risks of MDMA"
