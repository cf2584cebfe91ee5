"""assistant/document.py: the answers to questions about the document as a whole, quoted from
its header, its sections and its notes (the router, tested in test_routes.py, tells them)."""

from __future__ import annotations

from assistant.document import answer_about_documents


def test_the_author_is_quoted_from_the_header(resources, article_text):
    found = answer_about_documents("author", resources.library)
    (source,) = found.sources
    assert source.quote == "Kent Bassett"
    assert article_text[source.start : source.end] == "Kent Bassett"


def test_the_summary_quotes_one_sentence_per_section_in_order(resources):
    found = answer_about_documents("summary", resources.library)
    texts = resources.texts
    assert 3 <= len(found.sources) <= 8
    assert [s.start for s in found.sources] == sorted(s.start for s in found.sources)
    assert len({s.section for s in found.sources}) == len(found.sources)
    assert all(texts[s.document][s.start : s.end] == s.quote for s in found.sources)


def _quotes(kind, resources):
    found = answer_about_documents(kind, resources.library)
    texts = resources.texts
    assert all(texts[s.document][s.start : s.end] == s.quote for s in found.sources)
    return found, [s.quote for s in found.sources]


def test_the_argument_is_how_it_opens_and_closes(resources):
    found, quotes = _quotes("argument", resources)
    assert quotes[0].startswith("Will psychedelic-assisted therapy be able to help")
    assert quotes[-1].startswith("And those two factors")  # its last paragraph of argument
    assert not any(q.startswith("Note:") for q in quotes)


def test_the_resources_are_its_pointers_then_its_list_without_the_note(resources):
    found, quotes = _quotes("resources", resources)
    assert "I can recommend" in quotes[0] and "https://dancesafe.org" in quotes[1]
    listed = [s for s in found.sources if "Further Resources" in s.section]
    assert len(listed) == 4 and found.sources[-4:] == listed
    assert not any("educational purposes" in q for q in quotes)


def test_the_disclaimer_is_the_repeated_note_quoted_once(resources):
    found, quotes = _quotes("disclaimer", resources)
    assert quotes == [
        "Note: I do not provide support for or advocate the use of psychedelics.",
        "This information is being provided for educational purposes.",
    ]


def test_the_structure_is_the_headings_in_order(resources):
    found, quotes = _quotes("structure", resources)
    assert quotes[0] == "Psychedelic-Assisted Therapy for Chronic Pain and Other Symptoms"
    assert quotes[-1] == "Further Resources For Psychedelic-Assisted Therapy"
    assert [s.start for s in found.sources] == sorted(s.start for s in found.sources)


def test_no_date_is_said_plainly(resources):
    found = answer_about_documents("date", resources.library)
    assert found.sources == []  # the passages are asked next (the route's retrieval stages)


def test_the_summary_opens_with_the_lede_and_leaves_out_the_note(resources):
    _, quotes = _quotes("summary", resources)
    assert quotes[0].startswith("Will psychedelic-assisted therapy be able to help")
    assert not any(q.startswith("Note:") for q in quotes)
