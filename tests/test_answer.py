"""assistant/answer.py: content terms, the answer's markdown, sources, and the question and
quote readings the decision weighs (unknown words, the kind of answer asked, what the quotes lack).

Runs on the real sentences of the shipped corpus (parsed, no model or index needed).
"""

from __future__ import annotations

import re

import pytest

from assistant.answer import SentenceScorer, asks_type, compose_answer, to_sources
from assistant.terms import content_terms
from assistant.types import Source


@pytest.fixture(scope="module")
def texts(documents) -> dict[str, str]:
    return {d.id: d.text for d in documents}


@pytest.fixture(scope="module")
def sentences(documents):
    return [s for d in documents for s in d.sentences]


@pytest.fixture(scope="module")
def scorer(sentences) -> SentenceScorer:
    return SentenceScorer(sentences)


def _sentence(sentences, needle: str):
    (found,) = [s for s in sentences if needle in s.text]
    return found


# --- content_terms --------------------------------------------------------------------------


def test_dotted_acronyms_are_one_term():
    assert "phd" in content_terms("Peter Hendricks, Ph.D. is a clinical psychologist")
    assert content_terms("PhD") == {"phd"}


def test_content_terms_are_stemmed_lowercase_and_without_stopwords():
    assert content_terms("What are the dangers of MDMA for dancers?") == {
        "danger",
        "mdma",
        "dancer",
    }
    assert content_terms("Fibromyalgia FIBROMYALGIA fibromyalgia") == {"fibromyalgia"}


def test_content_terms_drop_question_words_and_words_about_the_article():
    assert content_terms("Why does the author say the article did? Tell who!") == set()
    assert content_terms("How could they, where would it, when should this?") == set()


@pytest.mark.parametrize("text", ["", "   ", "the and of a", "?!.,", "a b c"])
def test_content_terms_of_nothing_is_empty(text):
    assert content_terms(text) == set()


def test_content_terms_share_stems_across_forms():
    assert content_terms("microdosing") == content_terms("microdosed")
    assert content_terms("patients") == content_terms("patient")


# --- compose_answer and to_sources ----------------------------------------------------------


def test_compose_answer_puts_each_quote_on_its_own_marked_line():
    sources = [
        Source(1, "First quote.", 0, 12, "S"),
        Source(2, "Second quote, longer.", 20, 41, "S"),
        Source(3, "“A quoted finding.”", 50, 69, "S"),
    ]
    answer = compose_answer(sources, "Here is what the article reports of James Close:")
    assert answer == (
        "Here is what the article reports of James Close:\n"
        "\n"
        "> First quote. [1]\n"
        "\n"
        "> Second quote, longer. [2]\n"
        "\n"
        "> “A quoted finding.” [3]"
    )
    quote_lines = [line for line in answer.split("\n") if line.startswith(">")]
    assert quote_lines == [f"> {s.quote} [{s.id}]" for s in sources]


def test_compose_answer_default_lead_and_no_sources():
    assert compose_answer([], "The article says:") == "The article says:"
    one = compose_answer([Source(1, "Q.", 0, 2, "S")], "The article says:")
    assert one.startswith("The article says:\n\n> Q. [1]")


def test_compose_answer_has_no_trailing_whitespace():
    answer = compose_answer([Source(1, "Q.", 0, 2, "S"), Source(2, "R.", 3, 5, "S")], "Lead:")
    assert answer == answer.rstrip()
    assert all(line == line.rstrip() for line in answer.split("\n"))


def test_to_sources_numbers_from_one_and_keeps_offsets(sentences, texts):
    chosen = [sentences[3], sentences[10], sentences[40]]
    sources = to_sources(chosen)
    assert [s.id for s in sources] == [1, 2, 3]
    for source, sentence in zip(sources, chosen):
        assert (source.quote, source.start, source.end) == (
            sentence.text,
            sentence.start,
            sentence.end,
        )
        assert source.section == sentence.section
        assert source.document == sentence.doc_id
        assert texts[source.document][source.start : source.end] == source.quote


def test_to_sources_of_nothing_is_empty():
    assert to_sources([]) == []


def test_every_corpus_sentence_is_a_verbatim_source(sentences, texts):
    for source in to_sources(sentences):
        assert texts[source.document][source.start : source.end] == source.quote


# --- SentenceScorer.unknown_terms -----------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "unknown"),
    [
        ("Is ketamine used for chronic pain?", ["ketamine"]),
        ("Is psilocybin legal in Oregon?", ["Oregon"]),
        ("Does MDMA help with ADHD?", ["ADHD"]),
        ("What about ADHD's symptoms?", ["ADHD"]),  # possessive dropped
        ("Can ketamine help in Oregon?", ["ketamine", "Oregon"]),
    ],
)
def test_unknown_terms_flags_what_the_article_never_mentions(scorer, question, unknown):
    assert scorer.unknown_terms(question) == unknown


@pytest.mark.parametrize(
    "question",
    [
        "Can patients stop taking painkillers?",  # "pain" + "killers", common English
        "Does MDMA make people talkative?",  # shares a stem with "talk"
        "Does MDMA make people sociable?",  # shares a stem with "social"
        "What did Close et al. find?",
        "What did Hendricks find about fibromyalgia?",
        "Does MDMA out-weigh its risks?",
        "How many patients were in the case series?",
        "Oregon",  # a capital at the start of a question is not a proper name
        "",
    ],
)
def test_unknown_terms_spares_article_words_and_paraphrases(scorer, question):
    assert scorer.unknown_terms(question) == []


# --- SentenceScorer.select ------------------------------------------------------------------


NO_NUMBER = "To the outside world, Callie projected success."
WITH_NUMBER = "the analgesic effects for all 3 patients occurred"
WITH_YEAR = "which was banned in 1985"


def test_missing_names_what_a_count_or_date_question_lacks(scorer, sentences):
    no_number = _sentence(sentences, NO_NUMBER).text
    with_number = _sentence(sentences, WITH_NUMBER).text
    assert "number" in scorer.missing("How many patients were there?", [no_number], ())
    assert scorer.missing("How many patients were there?", [with_number, no_number], ()) == ""
    assert scorer.missing("When was MDMA banned?", [no_number], ())
    assert scorer.missing("When was MDMA banned?", [_sentence(sentences, WITH_YEAR).text], ()) == ""
    assert scorer.missing("How many patients were there?", [], ()) == ""


def test_unknown_share_counts_the_words_the_corpus_never_uses(scorer):
    assert scorer.unknown_share("What did Callie feel?") == 0.0
    assert scorer.unknown_share("Does ketamine help Callie?") == pytest.approx(1 / 3)
    assert scorer.unknown_share("") == 0.0
    assert scorer.unknown_terms("Does ketamine help Callie?") == ["ketamine"]


def test_asks_type_reads_the_kind_of_answer_wanted():
    assert asks_type("How many patients were there?")
    assert asks_type("When was MDMA banned?")
    assert not asks_type("What did Close et al. find?")


def test_idf_is_higher_for_rarer_terms(scorer):
    assert scorer.idf("fibromyalgia") > scorer.idf("pain")
    assert scorer.idf("zzzunseen") >= scorer.idf("fibromyalgia")


def test_sentence_needles_are_unique(sentences):
    for needle in (NO_NUMBER, WITH_NUMBER, WITH_YEAR, "Positive Reframing"):
        assert len([s for s in sentences if needle in s.text]) == 1, needle
    assert not re.search(r"\d", _sentence(sentences, NO_NUMBER).text)
