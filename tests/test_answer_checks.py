"""assistant/answer_checks.py: each check on quotes taken from the article, no model needed.

A check returns why the quotes do not give what the question asks for, or "" when they do.
"""

from __future__ import annotations

import pytest

from assistant.answer_checks import (
    Quotes,
    about_the_person,
    affiliation,
    agent,
    counts,
    date,
    is_task,
    missing_answer,
    named_attribute,
    quantity,
    which_thing,
)
from assistant.terms import content_terms

BANNED = (
    "MDMA stands for 3,4-Methylenedioxymethamphetamine, which was banned in 1985 after being "
    "used by therapists for years to facilitate healing."
)
CALLIE_2016 = (
    "So in 2016 she sought out an underground therapist willing to give her MDMA, the illegal "
    "drug also known as Ecstasy or Molly."
)
THREE_PATIENTS = (
    "Despite varying preparations and uncertain potencies, the analgesic effects for all 3 "
    "patients occurred at doses without a psychedelic experience and with minimal cognitive or "
    "somatic adverse effects."
)
PHASE_THREE = (
    "Because of successful phase three trials, the FDA is likely to approve MDMA as a medication "
    "for PTSD in the next 12 months."
)
SESSION = (
    "MDMA-assisted therapy involves a 6- or 7-hour dosing session where a patient listens to "
    "music with headphones on and wears an eye-shade mask to allow themselves to go inward and "
    "explore."
)
RATIO = "The ratio of inner focus to interaction is typically approximately 50:50"
CLOSE = (
    "Another prominent pain and psychedelics researcher is James Close, who works at the Centre "
    "for Psychedelic Research, Division of Brain Sciences, Imperial College London, London, "
    "United Kingdom."
)
HENDRICKS = (
    "Peter Hendricks, Ph.D. is a clinical psychologist and professor at the University of "
    "Alabama at Birmingham."
)
BYLINE = (
    "Chronic pain as an emergent property of a complex system and the potential roles of "
    "psychedelic therapies,” by Maya Armstrong, Joel Castellanos, Devon Christie, published in "
    "the journal Frontiers in Pain Research, 19 April 2024”"
)
CASTELLANOS = (
    "Another prominent researcher at the intersection of chronic pain and psychedelics is Joel "
    "Castellanos."
)
SESSION_START = (
    "Before the session, which usually starts in the morning, they set an intention to heal "
    "their traumas or symptoms."
)
VOCABULARY = frozenset().union(
    *(content_terms(t) for t in (BANNED, CALLIE_2016, THREE_PATIENTS, CLOSE, HENDRICKS, BYLINE))
)


def quotes(*texts: str, names: str = "", uses=lambda word: True) -> Quotes:
    return Quotes(texts, texts[0], frozenset(content_terms(names)), uses, VOCABULARY)


# --- is_task ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        "Write me a poem about the ocean.",
        "write a haiku about autumn",
        "Translate hello into German",
        "Tell me a joke",
    ],
)
def test_requests_to_produce_something_are_tasks(message):
    assert is_task(message)


@pytest.mark.parametrize(
    "message",
    [
        "What did Close write?",
        "Tell me about Callie",
        "Tell me the story of Callie",
        "Who wrote I Feel Love?",
    ],
)
def test_questions_about_writing_are_not_tasks(message):
    assert not is_task(message)


# --- quantity -----------------------------------------------------------------------------------


def test_a_count_needs_a_number_of_the_things_counted():
    assert quantity("How many patients were in the case series?", quotes(THREE_PATIENTS)) == ""
    reason = quantity("How many patients took part in the phase three trials?", quotes(SESSION))
    assert "number of patients" in reason


def test_the_questions_own_number_is_not_a_count():
    question = "How many phase three trials of MDMA were completed?"
    assert quantity(question, quotes(PHASE_THREE)) != ""


def test_a_count_question_whose_best_quote_has_no_number_is_unanswered():
    assert "number" in quantity("How many therapists were there?", quotes(CASTELLANOS))


def test_a_price_needs_money():
    assert "price" in quantity("How much does MDMA-assisted therapy cost?", quotes(SESSION))
    assert "price" in quantity("What is the typical price of a session?", quotes(SESSION))


def test_a_percentage_needs_a_share():
    question = "What percentage of participants recovered?"
    assert "percentage" in quantity(question, quotes(PHASE_THREE))
    assert quantity("What proportion of the session is inner focus?", quotes(RATIO)) == ""


# --- date ---------------------------------------------------------------------------------------


def test_a_date_must_be_about_the_subject():
    assert date("When was MDMA banned?", quotes(BANNED)) == ""
    assert date("When did Callie see an underground therapist?", quotes(CALLIE_2016)) == ""
    assert "date" in date("What year was Rachel Nuwer born?", quotes(BANNED))


def test_a_date_question_needs_a_date_in_the_best_quote():
    assert "date" in date("When did Castellanos start?", quotes(CASTELLANOS, BANNED))


def test_a_published_date_counts_for_the_papers_names():
    question = "When did the Frontiers in Pain Research paper by Armstrong come out?"
    assert date(question, quotes(BYLINE, names="Armstrong Frontiers in Pain Research")) == ""


# --- named_attribute ----------------------------------------------------------------------------


def test_a_name_needs_a_name_the_question_does_not_give():
    assert named_attribute("What is the title of Close's study?", quotes(BYLINE)) == ""
    assert "name" in named_attribute("What was the name of Callie's therapist?", quotes(SESSION))


def test_an_attribute_the_article_never_uses_is_unanswered():
    def uses(word):
        return word.lower() not in {"specialty", "director"}

    reason = named_attribute(
        "What is Joel Castellanos's medical specialty?", quotes(CASTELLANOS, uses=uses)
    )
    assert reason == "it never mentions specialty"
    assert "director" in named_attribute("Who is the director of MAPS?", quotes(CLOSE, uses=uses))


def test_an_attribute_in_the_quotes_is_answered():
    assert named_attribute("What is the ratio of inner focus to interaction?", quotes(RATIO)) == ""


def test_a_who_question_is_answered_by_a_name():
    question = "Who are the authors of the complex-system paper?"
    assert named_attribute(question, quotes(BYLINE)) == ""


# --- which_thing --------------------------------------------------------------------------------


def test_which_thing_needs_the_thing_or_a_name():
    assert which_thing("Which journal published Armstrong's paper?", quotes(BYLINE)) == ""
    assert "gene" in which_thing("Which gene variants matter?", quotes(SESSION))
    assert which_thing("Which one is more social?", quotes(SESSION)) == ""


# --- affiliation --------------------------------------------------------------------------------


def test_where_someone_works_needs_an_institution_beside_their_name():
    assert affiliation("Where does James Close work?", quotes(CLOSE, names="James Close")) == ""
    assert affiliation("Where does Hendricks teach?", quotes(HENDRICKS, names="Hendricks")) == ""
    reason = affiliation(
        "Where does Maya Armstrong work?",
        quotes(BYLINE, CLOSE, names="Maya Armstrong Frontiers in Pain Research"),
    )
    assert reason == "it does not say where they work"


# --- about_the_person ---------------------------------------------------------------------------


def test_a_question_about_a_person_needs_the_asked_words_in_the_quotes():
    reason = about_the_person(
        "Where did James Close get his PhD?", quotes(CLOSE, names="James Close")
    )
    assert "PhD" in reason
    assert (
        about_the_person("Where does James Close work?", quotes(CLOSE, names="James Close")) == ""
    )


def test_without_a_person_asked_about_nothing_is_required():
    assert about_the_person("Where did they get a PhD?", quotes(CLOSE)) == ""


# --- missing_answer and counts ------------------------------------------------------------------


def test_missing_answer_gives_the_first_reason_or_nothing():
    assert missing_answer("When was MDMA banned?", quotes(BANNED)) == ""
    assert missing_answer("How much does it cost?", quotes(BANNED)) == "it gives no price"


@pytest.mark.parametrize(
    ("things", "text", "expected"),
    [
        ("patients", "the effects for all 3 patients", True),
        ("people", "a small study of ten people", True),
        ("prominent researchers", "Three prominent researchers are working", True),
        ("episodes", "Ep 3 - The MDMA Episode", False),
        ("patients", "a 7-hour dosing session where a patient listens", False),
    ],
)
def test_counts_finds_a_number_just_before_the_things(things, text, expected):
    assert counts(things, text) is expected


MAPS_PROTOCOL = (
    "According to the MAPS protocol: “The MDMA-assisted session consists of periods of inner "
    "focus during which the participant attends to her/his intrapsychic experience”"
)
NUWER_BOOK = (
    "In Rachel Nuwer’s book, I Feel Love: MDMA and the Quest for Connection in a Fractured World, "
    "she opens with the story of Callie, a woman whose mother was a heroin addict."
)
SEVEN = (
    "Under MDMA's influence and her therapist's guidance, Callie regressed into a childlike state "
    "that ultimately allowed her to uncover a long-buried memory from when she was around seven "
    "years old."
)


@pytest.mark.parametrize(
    "question", ["Who founded MAPS?", "who developed the MAPS protocol", "Who led it?"]
)
def test_who_did_something_needs_that_act_in_the_quotes(question):
    assert agent(question, quotes(MAPS_PROTOCOL)).startswith("it does not say who")


@pytest.mark.parametrize(
    "question, text",
    [
        ("Who wrote I Feel Love?", NUWER_BOOK),  # a work's author, by a name beside it
        ("Who banned MDMA?", BANNED),  # the act is there, even without a name
        ("Who is running the trial?", MAPS_PROTOCOL),  # ongoing acts are not checked
        ("Who is Peter Hendricks?", MAPS_PROTOCOL),
    ],
)
def test_who_questions_the_quotes_answer_pass(question, text):
    assert agent(question, quotes(text)) == ""


def test_an_age_needs_an_age_not_a_year():
    assert quantity("How old was Callie when she took MDMA?", quotes(CALLIE_2016)) == (
        "it gives no age for that"
    )
    assert quantity("how old was Callie when she remembered it", quotes(SEVEN)) == ""
