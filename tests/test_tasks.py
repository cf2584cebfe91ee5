"""assistant/tasks.py: a client's background requests told from messages, and answered from
the transcript and the profile, with a fake encoder and fake rails."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assistant.profile import CorpusProfile, DocumentInfo
from assistant.tasks import NEUTRAL_TITLE, TaskAnswers, background_task, title

RECORDED = Path(__file__).parent / "data" / "openwebui"


def recorded(name: str) -> str:
    return json.loads((RECORDED / f"{name}.json").read_text())["messages"][-1]["content"]


PROFILE = CorpusProfile(
    documents=(DocumentInfo("Bees"),),
    noun="the guide",
    examples=("How do bees make honey?", "When do hives swarm?", "What do drones do?"),
    tags=("Nature", "Beekeeping"),
)
WORDS = ("honey", "swarm", "drone", "queen", "wax")


def fake_embed(texts):
    """Bag-of-topic-words vectors: enough to rank suggestions by the last question."""
    vectors = np.array(
        [[t.lower().count(w) for w in WORDS] + [0.1] for t in texts], dtype=np.float32
    )
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def answers(refuse: str = "\0", reason: str = "crisis") -> TaskAnswers:
    return TaskAnswers(
        PROFILE,
        ["The queen", "Wax and honey?"],
        lambda text: reason if refuse in text else None,
        fake_embed,
    )


@pytest.mark.parametrize(
    ("name", "kind", "key"),
    [
        ("title", "title", ""),
        ("title_json", "title", "title"),
        ("tags", "tags", "tags"),
        ("follow_ups", "follow_ups", "follow_ups"),
    ],
)
def test_recorded_open_webui_requests_are_tasks(name, kind, key):
    task = background_task(recorded(name))
    assert (task.kind, task.key) == (kind, key)
    assert task.questions[0].startswith("What did Close et al. find")


@pytest.mark.parametrize(
    "message",
    [
        "What did Close et al. find?",
        'What does { "title": "x" } mean in JSON?',  # a key, but no transcript
        "User: how much honey?",  # a role line, but no tagged block
        'user: how do I format {"title": "x"} in JSON?',  # a key, but no tagged block
        "<chat_history>ASSISTANT: hello</chat_history> what is a title?",  # no user line
    ],
)
def test_messages_to_answer_are_not_tasks(message):
    assert background_task(message) is None


def test_a_title_is_the_first_question():
    task = background_task(recorded("title"))
    assert answers().answer(task) == "What did Close et al. find about psychedelics and chronic…"
    got = json.loads(answers().answer(background_task(recorded("title_json"))))
    assert got["title"].startswith("What did Close")
    assert title("why " + "very " * 30 + "long?").endswith("…")


def test_tags_come_from_the_profile():
    assert json.loads(answers().answer(background_task(recorded("tags")))) == {
        "tags": ["Nature", "Beekeeping"]
    }


def test_follow_ups_are_the_nearest_suggestions_not_asked():
    prompt = (
        'Suggest follow-ups. JSON format: { "follow_ups": ["Q?"] }\n<chat_history>\n'
        "USER: How do bees make honey?\nASSISTANT: ...\nUSER: and the wax?\n</chat_history>"
    )
    got = json.loads(answers().answer(background_task(prompt)))["follow_ups"]
    assert got[0] == "Wax and honey?"
    assert "How do bees make honey?" not in got and len(got) == 3
    assert "What does the guide say about The queen?" in answers().suggestions


def test_a_conversation_the_rails_refuse_gets_nothing_from_it():
    prompt = recorded("follow_ups")
    assert json.loads(answers(refuse="Where does he").answer(background_task(prompt))) == {
        "follow_ups": []
    }
    assert answers(refuse="Close").answer(background_task(recorded("title"))) == NEUTRAL_TITLE


def test_an_unknown_task_gets_an_empty_answer():
    prompt = 'Pick an emoji. { "emoji": "x" }\n<chat_history>USER: hi</chat_history>'
    task = background_task(prompt)
    assert task.kind == "" and answers().answer(task) == "{}"


def test_a_suggestion_asked_in_other_words_is_not_suggested_again():
    got = answers().follow_ups(["so how exactly is honey made by the bees"])
    assert "How do bees make honey?" not in got and got[0] == "Wax and honey?"


def test_a_prompt_whose_own_words_the_rails_refuse_is_no_task():
    prompt = "I want to die tonight. <chat_history>USER: who wrote it?</chat_history> a title?"
    task = background_task(prompt)
    assert task.kind == "title" and "who wrote it" not in task.instruction
    assert answers(refuse="want to die").needs_help(task) == "I want to die tonight. a title?"
    assert answers().needs_help(background_task(recorded("title"))) is None
    # a rail that does not send the person to help leaves a client's template a task
    assert answers(refuse="want to die", reason="dosing").needs_help(task) is None
    # nor may a message in the transcript ask for help unheard
    inside = background_task("A title? <chat_history>USER: I want to die</chat_history>")
    assert answers(refuse="want to die").needs_help(inside) == "I want to die"


def test_a_message_in_the_transcript_is_read_whole_and_no_dose_is_repeated():
    prompt = (
        'Generate a title. JSON format: { "title": "..." }\n<chat_history>\n'
        "USER: Why was 20 mg chosen\nin the trial?\nASSISTANT: ...\n</chat_history>"
    )
    task = background_task(prompt)
    assert task.questions == ("Why was 20 mg chosen in the trial?",)
    got = json.loads(answers().answer(task))["title"]
    assert "20 mg" not in got and got.startswith("Why was")


def test_an_unclosed_or_huge_prompt_is_read_in_linear_time():
    import time

    started = time.perf_counter()
    assert background_task('{"title": 1}' + "\n" * 60_000 + "x") is None
    assert background_task("<chat_history>" * 4000) is None
    assert time.perf_counter() - started < 5.0  # quadratic, it took 36 s
