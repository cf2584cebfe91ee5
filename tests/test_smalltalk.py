"""assistant/smalltalk.py and profile.py: small talk answered in the corpus's own words."""

from __future__ import annotations

import pytest

from assistant.config import ROOT
from assistant.profile import CorpusProfile, DocumentInfo, corpus_profile, load_profile
from assistant.smalltalk import small_talk, small_talk_kind

ARTICLE = corpus_profile(ROOT / "corpus")
HOUSEHOLD = corpus_profile(ROOT / "evals" / "corpora" / "household")


@pytest.mark.parametrize(
    "message",
    ["hi", "Hello!", "hey there", "Good morning :)", "thanks", "Thank you so much!",
     "ok thanks, that was helpful", "cheers", "bye", "What can you do?", "what can I ask you",
     "help", "Who are you?", "hi, what can you do?"],
)  # fmt: skip
def test_small_talk_gets_a_short_reply(message):
    reply = small_talk(message, ARTICLE)
    assert reply
    assert len(reply) < 900


def test_what_can_you_do_lists_topics_and_examples():
    reply = small_talk("What can you do?", ARTICLE)
    assert reply == ARTICLE.about()
    assert "What did Close et al. find?" in reply
    assert "dosing" in reply
    assert (
        "*Psychedelic-Assisted Therapy for Chronic Pain and Other Symptoms* by Kent Bassett"
        in reply
    )


@pytest.mark.parametrize(
    "message",
    ["What did Close et al. find?", "hi, how much MDMA should I take?",
     "thanks, and what about psilocybin?", "Help me understand the MAPS protocol",
     "What is this study about?", "Who is Callie?", "what can MDMA do for pain?", "", b"hi"],
)  # fmt: skip
def test_questions_are_not_small_talk(message):
    assert small_talk_kind(message) is None
    assert small_talk(message, ARTICLE) is None


@pytest.mark.parametrize("message", ["hi", "What can you do?", "thanks"])
def test_another_corpus_speaks_of_itself_only(message):
    reply = small_talk(message, HOUSEHOLD)
    for word in ("psychedelic", "MDMA", "psilocybin", "article", "Callie"):
        assert word.lower() not in reply.lower()


def test_the_household_profile_lists_every_document_and_its_subject():
    about = HOUSEHOLD.about()
    assert "3 documents" in about and "sourdough" in about.lower()
    assert len(HOUSEHOLD.documents) == 3
    assert HOUSEHOLD.title == "Household Know-how"
    assert "psychedelic" not in HOUSEHOLD.disclaimer.lower()


def test_a_corpus_without_a_profile_is_described_by_its_titles(tmp_path):
    docs = [DocumentInfo("Oxygen", ""), DocumentInfo("The Rhine", "")]
    profile = load_profile(tmp_path, docs)
    assert profile.source == "the documents"
    assert "*Oxygen* and *The Rhine*" in profile.abstention()
    assert profile.abstention("it names no year").startswith(
        "The documents do not cover that, so I can't answer it from the documents; it names"
    )
    assert profile.lead() == "The documents say:"
    one = load_profile(tmp_path, docs[:1])
    assert one.lead("Ada") == "Here is what the document reports of Ada:"
    assert one.examples  # a summary and the author, which any document can answer


def test_a_profile_with_an_unknown_key_is_an_error(tmp_path):
    (tmp_path / "profile.toml").write_text('nmae = "typo"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="unknown keys"):
        load_profile(tmp_path, [DocumentInfo("T")])


def test_the_article_profile_keeps_its_wording():
    assert ARTICLE.source == "the article"
    assert ARTICLE.lead() == "The article says:"
    assert ARTICLE.abstention().startswith(
        "The article does not cover that, so I can't answer it from the article. "
    )
    assert isinstance(ARTICLE, CorpusProfile) and "MDMA" in ARTICLE.terms
