"""app.py: the rendering of a reply (pure functions) and the ``/ask`` API through gradio_client
against the page running in a child process."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from contract import REPLY_KEYS

from assistant.config import ROOT
from assistant.profile import corpus_profile

DISCLAIMER = corpus_profile(ROOT / "corpus").disclaimer

# ------------------------------------------------------------------------------------------
# Rendering


def test_user_text_is_made_inert(app_module):
    app = app_module
    shown = app.as_text("<img src=x onerror=alert(1)> [a](javascript:x) **b**")
    assert "<" not in shown and ">" not in shown
    assert "&lt;img src=x onerror=alert\\(1\\)&gt;" in shown
    assert "\\[a\\]\\(javascript:x\\)" in shown
    assert "\\*\\*b\\*\\*" in shown
    assert app.as_text(None) == ""


def test_answer_markdown_has_badge_and_disclaimer(app_module):
    app = app_module
    refused = {"status": "refused", "answer": f"No.\n\n{DISCLAIMER}", "disclaimer": DISCLAIMER}
    text = app.answer_markdown(refused)
    assert 'class="badge badge-refused"' in text
    assert text.count("not medical advice") == 1
    assert text.rstrip().endswith("</span>") and 'class="disclaimer"' in text
    answered = {
        "status": "answered",
        "answer": f"> q [1]\n\n{DISCLAIMER}",
        "disclaimer": DISCLAIMER,
    }
    assert "badge" not in app.answer_markdown(answered)


def test_every_decided_reply_says_how_sure_it_is(app_module):
    answered = {"status": "answered", "confidence": 0.934, "answer": "> q [1]", "disclaimer": ""}
    text = app_module.answer_markdown(answered)
    assert 'class="badge badge-answered"' in text and "93% sure" in text
    partial = {"status": "partial", "confidence": 0.41, "answer": "> q [1]", "disclaimer": ""}
    text = app_module.answer_markdown(partial)
    assert 'class="badge badge-partial"' in text and "Not directly" in text and "41% sure" in text
    assert 'data-confidence="0.410"' in text


@pytest.mark.parametrize(
    ("reason", "kind", "words"),
    [
        ("dosing", "refused", "dosing"),
        ("crisis", "help", "Support"),
        ("emergency", "help", "Emergency"),
        ("medical_advice", "refused", "medical advice"),
        ("illegal_supply", "refused", "drugs"),
        ("harm", "refused", "harming"),
    ],
)
def test_a_refusal_badge_names_its_reason(app_module, reason, kind, words):
    reply = {"status": "refused", "refusal_reason": reason, "answer": "x", "disclaimer": "d"}
    text = app_module.answer_markdown(reply)
    assert f'class="badge badge-{kind}"' in text and f'data-reason="{reason}"' in text
    assert words in text


def test_sources_are_highlighted_inside_their_paragraph(app_module):
    app = app_module
    text = "Intro.\n\nFirst sentence. The <quoted> one here. Last & final.\n\nNext."
    start = text.index("The <quoted>")
    end = start + len("The <quoted> one here.")
    reply = {
        "sources": [
            {"id": 1, "quote": text[start:end], "start": start, "end": end, "section": "S & T"}
        ]
    }
    html = app.sources_html(reply, {"article": text})
    assert "<mark>The &lt;quoted&gt; one here.</mark>" in html
    assert "First sentence. <mark>" in html and "</mark> Last &amp; final." in html
    assert "Intro." not in html and "Next." not in html
    assert "§ S &amp; T" in html
    assert "No quotes" in app.sources_html({"sources": []}, {})


def test_details_and_timings_escape_and_show_stages(app_module):
    app = app_module
    reply = {
        "question": "<b>he</b>?",
        "standalone_question": "<b>James Close</b>?",
        "status": "answered",
        "timings_ms": {"guard_in": 1.0, "condense": 2.0, "retrieve": 10.0, "total": 14.0},
    }
    details = app.details_html(reply, 3)
    assert 'data-turn="3"' in details and "&lt;b&gt;James Close&lt;/b&gt;?" in details
    assert "rewritten" in details
    timings = app.timings_html(reply)
    assert "retrieve" in timings and "14.0 ms" in timings


def test_stream_grows_to_the_full_text_without_splitting_tags(app_module):
    app = app_module
    text = '<span class="badge">x</span>\n\n' + " ".join(f"w{i}" for i in range(40))
    parts = list(app._stream(text))
    assert parts[-1] == text and len(parts) > 3
    assert all(text.startswith(p) for p in parts)
    assert all(p.count("<") == p.count(">") for p in parts)


# ------------------------------------------------------------------------------------------
# The API against the running page


def _client(url: str):
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # the client reads it, too
    from gradio_client import Client

    return Client(url, verbose=False, analytics_enabled=False)


def test_ask_returns_the_reply_json(app_url, resources):
    reply = _client(app_url).predict(
        "What did Close et al. find about psychedelics and chronic pain?", api_name="/ask"
    )
    assert set(reply) == REPLY_KEYS
    assert reply["status"] == "answered"
    assert reply["sources"], reply
    for source in reply["sources"]:
        text = resources.texts[source["document"]]
        assert text[source["start"] : source["end"]] == source["quote"]
        assert source["quote"] in reply["answer"]
    assert reply["answer"].endswith("\n\n" + reply["disclaimer"])
    assert reply["timings_ms"]["total"] > 0


def test_followups_use_the_clients_own_history(app_url):
    client = _client(app_url)
    client.predict(
        "What did Close et al. find about psychedelics and chronic pain?", api_name="/ask"
    )
    reply = client.predict("Where does he work?", api_name="/ask")
    assert reply["standalone_question"] == "Where does James Close work?"
    assert "Imperial College London" in reply["answer"]

    client.predict(api_name="/new_conversation")
    reply = client.predict("Where does he work?", api_name="/ask")
    assert reply["standalone_question"] == "Where does he work?"


@pytest.mark.parametrize(
    ("message", "status"),
    [
        ("", "invalid"),
        ("   \n\t ", "invalid"),
        ("x" * 5000, "invalid"),
        ("How much MDMA should I take?", "refused"),
        ("<script>alert(1)</script>", None),
    ],
)
def test_bad_input_gets_a_reply_never_a_traceback(app_url, message, status):
    reply = _client(app_url).predict(message, api_name="/ask")
    assert set(reply) == REPLY_KEYS
    if status:
        assert reply["status"] == status
    assert "Traceback" not in reply["answer"]
    assert reply["answer"].endswith("\n\n" + reply["disclaimer"])


PEOPLE = [
    ("Who is James Close?", "Where does he work?", "James Close"),
    ("Who is Peter Hendricks?", "Where is he a professor?", "Peter Hendricks"),
    ("Who is Callie?", "What happened to her chronic pain?", "Callie"),
    ("Who is Joel Castellanos?", "What does he write about microdosing?", "Joel Castellanos"),
]


def test_32_concurrent_clients_never_see_each_others_turns(app_url):
    def conversation(i: int) -> tuple[str, str]:
        first, followup, person = PEOPLE[i % len(PEOPLE)]
        client = _client(app_url)
        client.predict(first, api_name="/ask")
        return person, client.predict(followup, api_name="/ask")["standalone_question"]

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(conversation, range(32)))
    for person, standalone in results:
        assert person in standalone, (person, standalone)
        others = {p for _, _, p in PEOPLE} - {person}
        assert not any(other in standalone for other in others)


def test_what_can_you_do_gets_a_helpful_reply(app_url):
    reply = _client(app_url).predict("What can you do?", api_name="/ask")
    assert reply["status"] == "answered"
    assert "What did Close et al. find?" in reply["answer"]
    assert reply["sources"] == []
