"""assistant/history.py: bounded histories, the same for the page, the CLI and the API."""

from __future__ import annotations

import threading

from assistant.history import ConversationStore, TranscriptCache, bounded, remember, to_turn
from assistant.types import Reply, Source


def reply(question: str, status="answered", reason=None) -> Reply:
    sources = [Source(1, "A quote.", 0, 8, "s")] if status == "answered" else []
    return Reply(question, question, status, "answer", sources, refusal_reason=reason)


def test_a_turn_remembers_the_question_its_status_and_quotes():
    turn = to_turn(reply("q", "refused", "dosing"))
    assert (turn.question, turn.status, turn.reason, turn.dosing) == (
        "q",
        "refused",
        "dosing",
        True,
    )
    assert to_turn(reply("q")).sources[0].quote == "A quote."


def test_remember_is_bounded():
    history = ()
    for i in range(5):
        history = remember(history, reply(f"q{i}"), 3)
    assert [t.question for t in history] == ["q2", "q3", "q4"]


def test_store_keeps_the_last_turns_per_conversation():
    store = ConversationStore(max_turns=3)
    for i in range(5):
        store.add("a", reply(f"q{i}"))
    store.add("b", reply("other"))
    assert [t.question for t in store.history("a")] == ["q2", "q3", "q4"]
    assert [t.question for t in store.history("b")] == ["other"]
    assert store.history("missing") == ()
    store.clear("a")
    assert store.history("a") == ()


def test_store_forgets_the_least_recent_conversations():
    store = ConversationStore(max_turns=2, max_conversations=3)
    for name in "abcd":
        store.add(name, reply(name))
    assert len(store) == 3
    assert store.history("a") == ()
    store.add("b", reply("b2"))  # b is now the most recent
    store.add("e", reply("e"))
    assert store.history("c") == () and store.history("b")


def test_store_is_thread_safe():
    store = ConversationStore(max_turns=1000, max_conversations=100)
    barrier = threading.Barrier(16)

    def work(worker: int) -> None:
        barrier.wait()
        for i in range(200):
            store.add(f"c{worker % 8}", reply(f"{worker}-{i}"))
            store.history(f"c{(worker + 1) % 8}")

    threads = [threading.Thread(target=work, args=(w,)) for w in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store) == 8
    assert sum(len(store.history(f"c{i}")) for i in range(8)) == 16 * 200
    for i in range(8):
        questions = [t.question for t in store.history(f"c{i}")]
        assert all(int(q.split("-")[0]) % 8 == i for q in questions)


def test_bounded():
    turns = [to_turn(reply(str(i))) for i in range(10)]
    assert [t.question for t in bounded(turns, 3)] == ["7", "8", "9"]
    assert bounded(turns, 0) == ()


def test_a_transcript_is_answered_once_per_prefix():
    calls = []

    def answer(message, history):
        calls.append((message, len(history)))
        return reply(message)

    transcripts = TranscriptCache(answer, max_turns=6)
    assert len(transcripts.history(["q1", "q2"])) == 2
    assert calls == [("q1", 0), ("q2", 1)]
    transcripts.remember(["q1", "q2", "q3"], to_turn(reply("q3")))
    calls.clear()
    assert len(transcripts.history(["q1", "q2", "q3"])) == 3
    assert calls == []


def test_a_transcript_history_is_bounded_to_the_window():
    transcripts = TranscriptCache(lambda m, h: reply(m), max_turns=2)
    assert [t.question for t in transcripts.history(["a", "b", "c"])] == ["b", "c"]


def test_a_turn_that_failed_on_our_side_is_not_remembered():
    history = remember((), reply("q1"), 6)
    assert remember(history, reply("q2", "error"), 6) == history
    transcripts = TranscriptCache(lambda m, h: reply(m), max_turns=6)
    transcripts.remember(["q1"], to_turn(reply("q1", "error")))
    assert transcripts.history(["q1"])[0].status == "answered"  # answered again, not the error
