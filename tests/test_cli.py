"""assistant/cli.py: the real console script in subprocesses, over the session's index.

ASSISTANT_INDEX_DIR points at the index the session already built (tests/conftest.py), so no
command rebuilds it. ``ask`` and ``chat`` each load the model once (the slow part, ~10-30 s on
a loaded box); ``--help`` and a no-change ``index`` load nothing heavy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from contract import REPLY_KEYS, SOURCE_KEYS, STATUSES

from assistant import rails
from assistant.config import OFFLINE_ENV, ROOT
from assistant.profile import corpus_profile

DISCLAIMER = corpus_profile(ROOT / "corpus").disclaimer

HEAVY = ("torch", "chromadb", "sentence_transformers", "transformers", "langchain_core", "bm25s")

_SCRIPT = Path(sys.executable).with_name("assistant")
ASSISTANT = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "assistant.cli"]


@pytest.fixture(scope="module")
def env(settings, resources) -> dict[str, str]:
    """The environment of a CLI run over the session's (already built) index."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    out.update(OFFLINE_ENV)
    out["ASSISTANT_INDEX_DIR"] = str(settings.index_dir)
    out["ASSISTANT_CORPUS_DIR"] = str(settings.corpus_dir)
    # One torch thread: on the shared 2-core box two intra-op threads make each embedding ~15x
    # slower (365-400 ms vs 21-26 ms per query measured under load); the replies are the same.
    out["OMP_NUM_THREADS"] = "1"
    return out


def run(args: list[str], env: dict[str, str], stdin: bytes | None = None, timeout: float = 600):
    return subprocess.run(
        ASSISTANT + args,
        input=stdin,
        capture_output=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
    )


def replies(stdout: bytes) -> list[dict]:
    lines = stdout.decode("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def assert_reply_shape(reply: dict, article: str) -> None:
    assert set(reply) == REPLY_KEYS
    assert reply["status"] in STATUSES
    assert reply["disclaimer"] == DISCLAIMER
    assert reply["answer"].endswith("\n\n" + DISCLAIMER)
    if reply["status"] != "invalid":  # the CLI answers lines with no message itself
        assert {"guard_in", "total"} <= set(reply["timings_ms"])
    for source in reply["sources"]:
        assert set(source) == SOURCE_KEYS
        assert article[source["start"] : source["end"]] == source["quote"]


# --- --help ---------------------------------------------------------------------------------


def test_help_is_fast_and_lists_the_subcommands():
    started = time.perf_counter()
    result = subprocess.run(ASSISTANT + ["--help"], capture_output=True, timeout=60)
    elapsed = time.perf_counter() - started
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    for command in ("index", "ask", "chat", "eval"):
        assert command in out
    assert "--index-dir" in out and "--chroma-url" in out
    assert result.stderr == b""
    assert elapsed < 15  # ~0.2 s measured; generous for a loaded box


@pytest.mark.parametrize("command", ["index", "ask", "chat", "eval"])
def test_subcommand_help(command):
    result = subprocess.run(ASSISTANT + [command, "--help"], capture_output=True, timeout=60)
    assert result.returncode == 0
    assert b"usage: assistant " + command.encode() in result.stdout


def test_help_imports_no_model_index_or_langchain():
    code = (
        "import json, sys\n"
        "from assistant import cli\n"
        "try:\n"
        "    cli.main(['--help'])\n"
        "except SystemExit as exit:\n"
        "    code = exit.code\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(json.dumps({'code': code, 'heavy': heavy}), file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60, cwd=ROOT)
    verdict = json.loads(result.stderr.decode().strip().splitlines()[-1])
    assert verdict == {"code": 0, "heavy": []}


def test_bad_arguments_exit_2_with_usage():
    result = subprocess.run(ASSISTANT + ["frobnicate"], capture_output=True, timeout=60)
    assert result.returncode == 2
    assert b"usage:" in result.stderr
    assert b"Traceback" not in result.stderr


def test_help_description_is_whole_sentences():
    # was a bug: the description was the docstring's first line, cut mid-sentence
    result = subprocess.run(ASSISTANT + ["--help"], capture_output=True, timeout=60)
    out = result.stdout.decode()
    description = out.split("\n\n")[1]
    assert not description.startswith(("positional", "options"))
    assert " ".join(description.split()).endswith(".")


# --- index ----------------------------------------------------------------------------------


def test_index_twice_says_up_to_date(env):
    for _ in range(2):
        result = run(["index"], env, timeout=300)
        assert result.returncode == 0, result.stderr.decode()[-2000:]
        assert b"Traceback" not in result.stderr
    assert "up to date" in result.stdout.decode()


def test_index_with_a_missing_corpus_is_a_one_line_error(env, tmp_path):
    result = run(["--corpus-dir", str(tmp_path / "nowhere"), "index"], env, timeout=300)
    assert result.returncode == 2
    assert b"Traceback" not in result.stderr
    assert result.stderr.decode().strip().startswith("assistant index:")


# --- ask ------------------------------------------------------------------------------------


def test_ask_json_gives_the_reply_schema(env, resources):
    result = run(
        ["ask", "What did Close et al. find about psychedelics and chronic pain?", "--json"], env
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert b"Traceback" not in result.stderr
    (reply,) = replies(result.stdout)
    assert_reply_shape(reply, resources.texts["article"])
    assert reply["status"] == "answered"
    assert reply["question"] == "What did Close et al. find about psychedelics and chronic pain?"
    assert [s["id"] for s in reply["sources"]] == list(range(1, len(reply["sources"]) + 1))
    assert "Positive Reframing" in reply["answer"]
    assert {"retrieve", "answer"} <= set(reply["timings_ms"])


# --- chat --jsonl ---------------------------------------------------------------------------

# (input line, expected status or None for "no reply"); bytes lines go to stdin as they are.
CHAT_LINES: list[tuple[bytes, str | None]] = [
    (b'{"message": "What did Close et al. find about psychedelics and chronic pain?"}', "answered"),
    (b"this is not json", "invalid"),
    (b"", None),
    (b'{"message": ""}', "invalid"),
    (b"\xff\xfe\xc3\x28 undecodable", "invalid"),
    (b'{"message": "Who is James Close?", "conversation": "a"}', "answered"),
    (b'{"message": "Who is Callie?", "conversation": "b"}', "answered"),
    (b'{"message": "Where does he work?", "conversation": "a"}', "answered"),
    (b"   \t ", None),
    (b'{"message": "How much MDMA should I take?", "conversation": "c"}', "refused"),
    (b"[1, 2, 3]", "invalid"),
    (b'{"message": 42}', "invalid"),
    (b'{"conversation": "a"}', "invalid"),
    (b'{"message": "\\u0000\\u0001\\u001b"}', "invalid"),
    (b'{"message": "' + b"x" * 20000 + b'"}', "invalid"),
    (b'{"message": "How do I bake sourdough bread?"}\r', "abstained"),
    (b'{"message": "Who is \\ud800Callie?", "conversation": "d"}', "answered"),
    (b'{"message": "Who is Peter Hendricks?", "conversation": null}', "answered"),
]
EXPECTED = [status for _, status in CHAT_LINES if status is not None]


@pytest.fixture(scope="module")
def chat(env):
    """One ``chat --jsonl`` run over all the lines (the last without a newline)."""
    stdin = b"\n".join(line for line, _ in CHAT_LINES)
    started = time.perf_counter()
    result = run(["chat", "--jsonl"], env, stdin=stdin)
    result.seconds = time.perf_counter() - started
    return result


def test_chat_exits_cleanly_without_a_traceback(chat):
    assert chat.returncode == 0, chat.stderr.decode()[-3000:]
    assert b"Traceback" not in chat.stderr


def test_chat_writes_one_reply_per_non_empty_line_in_order(chat):
    out = replies(chat.stdout)
    # an article question is quoted, sure enough to answer or "not directly" (partial)
    quoted = {"answered": "answered", "partial": "answered"}
    assert [quoted.get(r["status"], r["status"]) for r in out] == EXPECTED
    assert len(chat.stdout.decode().splitlines()) == len(EXPECTED)


def test_chat_replies_have_the_schema(chat, resources):
    for reply in replies(chat.stdout):
        assert_reply_shape(reply, resources.texts["article"])


def test_chat_invalid_lines_get_a_one_line_reason(chat):
    for reply in replies(chat.stdout):
        if reply["status"] == "invalid":
            reason = reply["answer"][: -len(DISCLAIMER)].strip()
            assert reason and "\n" not in reason
            assert reply["sources"] == []


def test_chat_keeps_conversations_apart(chat):
    out = replies(chat.stdout)
    close_in_a, callie_in_b, follow_up_in_a = out[4], out[5], out[6]
    assert "James Close" in close_in_a["answer"]
    assert "Callie" in callie_in_b["answer"]
    assert follow_up_in_a["question"] == "Where does he work?"
    assert "James Close" in follow_up_in_a["standalone_question"]
    assert "Imperial College London" in follow_up_in_a["answer"]


def test_chat_undecodable_line_says_it_is_not_utf8(chat):
    reply = replies(chat.stdout)[3]
    assert "UTF-8" in reply["answer"]


def test_chat_over_long_message_says_the_cap(chat, settings):
    reply = [r for r in replies(chat.stdout) if "too long" in r["answer"]]
    assert len(reply) == 1
    assert str(settings.max_message_chars) in reply[0]["answer"]


def test_chat_never_states_a_dose(chat):
    for reply in replies(chat.stdout):
        assert rails.find_doses(reply["answer"][: -len(DISCLAIMER)]) == []


def reply_to(chat, line: bytes) -> dict:
    """The reply to one input line of CHAT_LINES."""
    answered = [text for text, status in CHAT_LINES if status is not None]
    return replies(chat.stdout)[answered.index(line)]


@pytest.mark.parametrize(
    "line", [b"this is not json", b"[1, 2, 3]", b'{"message": 42}', b'{"conversation": "a"}']
)
def test_chat_lines_without_a_message_say_so(chat, line):
    # was a bug: such lines were answered "The message was empty"
    reply = reply_to(chat, line)
    assert reply["status"] == "invalid"
    assert "JSON" in reply["answer"] and "empty" not in reply["answer"], reply["answer"]


@pytest.mark.parametrize("line", [b'{"message": ""}', b'{"message": "\\u0000\\u0001\\u001b"}'])
def test_chat_empty_and_control_messages_say_empty(chat, line):
    reply = reply_to(chat, line)
    assert reply["status"] == "invalid"
    assert "empty" in reply["answer"]


def test_a_bad_llm_is_one_clear_line_not_a_traceback(env):
    result = run(["--llm", "gemma", "ask", "hi"], env, timeout=300)
    assert result.returncode == 2
    assert result.stderr.decode().strip() == (
        "assistant: --llm wants PROVIDER:MODEL (such as ollama:llama3.2), not 'gemma'"
    )
