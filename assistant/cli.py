"""Ask the documents from the command line: index, ask, chat, mcp and eval.

Heavy imports happen inside the commands, so ``--help`` starts instantly.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from assistant.config import Settings, apply_offline_env


def _settings(args: argparse.Namespace) -> Settings:
    return Settings().replace(
        chroma_url=getattr(args, "chroma_url", None),
        index_dir=Path(args.index_dir) if getattr(args, "index_dir", None) else None,
        corpus_dir=Path(args.corpus_dir) if getattr(args, "corpus_dir", None) else None,
        llm=getattr(args, "llm", None),
        llm_base_url=getattr(args, "llm_base_url", None),
    )


def _print_reply(reply, as_json: bool) -> None:
    if as_json:
        print(json.dumps(reply.to_dict(), ensure_ascii=False), flush=True)
        return
    if reply.standalone_question and reply.standalone_question != reply.question:
        print(f"({reply.standalone_question})")
    print(reply.text)
    for source in reply.sources:
        print(f"  [{source.id}] {source.section} · chars {source.start}–{source.end}")
    if reply.confidence is not None:
        print(f"  ({reply.status}, confidence {reply.confidence:.2f})")
    print(flush=True)


def cmd_index(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from assistant.corpus import add_document
    from assistant.embeddings import encoder_file, get_embeddings
    from assistant.index import ensure_index

    settings = _settings(args)
    try:
        for name in args.add or ():
            document = add_document(settings.corpus_dir, Path(name), settings.max_passage_words)
            print(f"Added {document.path.name} ({document.title!r}) to {settings.corpus_dir}.")
        changes = ensure_index(settings, progress=tqdm, rebuild=args.rebuild)
    except (OSError, ValueError) as error:
        print(f"assistant index: {error}", file=sys.stderr)
        return 2
    print(changes.summary(), flush=True)
    encoder = encoder_file()
    if not encoder.exists():
        get_embeddings()  # makes the ONNX export once (or warns and falls back)
    fallback = "sentence-transformers (no ONNX export; see the warning above)"
    print(f"Question encoder: {encoder if encoder.exists() else fallback}", flush=True)
    return 0


def _assistant(args: argparse.Namespace):
    """The assistant for these flags, or None with a one-line message (a bad --llm, say)."""
    from assistant.chain import Assistant

    try:
        return Assistant(_settings(args))
    except (ValueError, ImportError) as error:
        print(f"assistant: {error}", file=sys.stderr)
        return None


def cmd_ask(args: argparse.Namespace) -> int:
    assistant = _assistant(args)
    if assistant is None:
        return 2
    _print_reply(assistant.reply(args.question), args.json)
    return 0


NOT_A_MESSAGE = (
    'That line is not a JSON object with a "message" string; send one like '
    '{"message": "What did Close et al. find?", "conversation": "c1"}.'
)


def _jsonl_message(line: str) -> tuple[str | None, str]:
    """The message and conversation id of one input line; None for a malformed line."""
    try:
        obj = json.loads(line)
    except ValueError:
        return None, "default"
    if not isinstance(obj, dict):
        return None, "default"
    conversation = str(obj.get("conversation") or "default")
    message = obj.get("message")
    return (message if isinstance(message, str) else None), conversation


def _invalid(question: str, answer: str, disclaimer: str):
    """A reply for input the chain never saw, finished by the same output guard."""
    from assistant.rails import guard_out
    from assistant.types import Reply

    reply = Reply(question[:200], "", "invalid", answer, route="refused")
    return guard_out(reply, {}, disclaimer)


def cmd_chat(args: argparse.Namespace) -> int:
    assistant = _assistant(args)
    if assistant is None:
        return 2
    stdin = sys.stdin.buffer
    interactive = not args.jsonl and sys.stdin.isatty()
    if interactive:
        print(f"Ask about {assistant.profile.source} (Ctrl-D to leave).", flush=True)
    while True:
        if interactive:
            print("> ", end="", flush=True)
        raw = stdin.readline()
        if not raw:
            return 0
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            line = None  # the guard says what to do with undecodable bytes
        if not args.jsonl:
            message = raw.rstrip(b"\r\n") if line is None else line.rstrip("\r\n")
            _print_reply(assistant.ask(message), False)
        elif line is None:
            _print_reply(assistant.ask(raw), True)
        elif line.strip():
            message, conversation = _jsonl_message(line)
            if message is None:
                invalid = _invalid(line.strip(), NOT_A_MESSAGE, assistant.profile.disclaimer)
                _print_reply(invalid, True)
            else:
                _print_reply(assistant.ask(message, conversation), True)


def cmd_eval(args: argparse.Namespace) -> int:
    import os

    from evals.runner import main as run_evals

    # the runner builds its Settings from the environment: --llm reaches it there
    for name, value in (("ASSISTANT_LLM", args.llm), ("ASSISTANT_LLM_BASE_URL", args.llm_base_url)):
        if value:
            os.environ[name] = value

    return run_evals(args)


def cmd_mcp(args: argparse.Namespace) -> int:
    from assistant.mcp_server import serve

    try:
        return serve(_settings(args))
    except (ValueError, ImportError) as error:
        print(f"assistant: {error}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assistant", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--chroma-url",
        help="use a Chroma server (http://HOST:PORT) instead of "
        "the embedded index (env ASSISTANT_CHROMA_URL)",
    )
    parser.add_argument("--index-dir", help="where the index lives (env ASSISTANT_INDEX_DIR)")
    parser.add_argument("--corpus-dir", help="the corpus folder (env ASSISTANT_CORPUS_DIR)")
    parser.add_argument(
        "--llm",
        metavar="PROVIDER:MODEL",
        help="write answers in prose with this model, every sentence checked against its quotes "
        "(ollama:llama3.2, openai:gpt-4o-mini; env ASSISTANT_LLM)",
    )
    parser.add_argument(
        "--llm-base-url",
        metavar="URL",
        help="the writer's server, for Ollama or any OpenAI-compatible one (env ASSISTANT_LLM_BASE_URL)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="build or refresh the index")
    p.add_argument("--rebuild", action="store_true", help="embed every passage again")
    p.add_argument(
        "--add",
        action="append",
        metavar="FILE",
        help="copy a Markdown or text document into the corpus and index it (repeatable)",
    )
    p.set_defaults(run=cmd_index)

    p = sub.add_parser("ask", help="ask one question")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the reply as JSON")
    p.set_defaults(run=cmd_ask)

    p = sub.add_parser("chat", help="a conversation on stdin")
    p.add_argument(
        "--jsonl",
        action="store_true",
        help='read {"message": ..., "conversation": ...} lines, write reply lines',
    )
    p.set_defaults(run=cmd_chat)

    p = sub.add_parser("mcp", help="serve the assistant to MCP clients on stdin/stdout")
    p.set_defaults(run=cmd_mcp)

    p = sub.add_parser("eval", help="run the eval suite")
    p.add_argument("--report", metavar="DIR", help="write report.md, results.json, plots")
    p.add_argument("--compare", action="store_true", help="also run the ablation variants")
    p.add_argument("--baseline", metavar="RESULTS_JSON", help="list cases that flipped since")
    p.add_argument("--export-ragas", metavar="FILE", help="write a RAGAS-style dataset")
    p.add_argument("--gate", action="store_true", help="exit 1 when a metric is below threshold")
    p.add_argument(
        "--corpus",
        metavar="DIR",
        help="run another corpus folder instead: its documents, cases.jsonl and thresholds.toml",
    )
    p.add_argument(
        "--squad", metavar="FILE", help="run a SQuAD-format file instead (each article a corpus)"
    )
    p.add_argument("--articles", type=int, default=0, help="--squad: only the first N articles")
    p.add_argument(
        "--per-article", type=int, default=0, help="--squad: only N questions per article"
    )
    p.set_defaults(run=cmd_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    apply_offline_env()
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
