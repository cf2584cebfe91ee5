"""The web page: a Gradio chat around ``assistant.chain`` (``python app.py [--host] [--port]``).

Thin on purpose: the turn is ``Assistant.reply``; this file renders a ``Reply`` (the streamed
answer, a status badge, the cited quotes highlighted inside their paragraphs, the standalone
question, per-stage timings) and keeps each browser tab's history in ``gr.State``.
The same turn is served to programs as the ``/ask`` endpoint (gradio_client), returning the
Reply JSON, and as an OpenAI-compatible ``/v1/chat/completions`` (``assistant/api.py``) on the
same port.
"""

from __future__ import annotations

import argparse
import hmac
import html
import logging
import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from assistant.config import Settings, apply_offline_env
from assistant.rails.doses import mask_doses
from assistant.rails.registry import BADGES as REASON_BADGES  # a refusal's badge, per rail
from assistant.registry import BADGES, STAGES  # a status's badge; the stages, in order

apply_offline_env()  # before gradio is imported: no analytics, no hub


HOST = "127.0.0.1"
PORT = 7860
# The chain is CPU-bound (~25 ms a turn) and embeds with torch, which has threads of its own:
# a few turns at a time keep the cores busy; more only contend. Measured with benchmarks/load.py.
CONCURRENCY = 4
STREAM_CHUNK_WORDS = 6
STREAM_DELAY_S = 0.012  # between chunks: a visible stream, about half a second per answer
# an idle connection is kept longer than clients keep theirs (httpx and the openai SDK: 5 s),
# so a client never sends a request on a connection the server is closing at that moment
KEEP_ALIVE_S = 75
CONTEXT_CHARS = 360  # of the paragraph shown either side of a quote in the sources panel


CSS = """
.gradio-container { max-width: 1280px !important; margin: 0 auto !important; }
#title h1 { margin-bottom: 0.1em; }
#title p { margin-top: 0; opacity: 0.8; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 999px; font-size: 0.85em;
         font-weight: 600; letter-spacing: 0.01em; border: 1px solid transparent; }
.badge-answered { background: #dcfce7; color: #14532d; border-color: #86efac; }
.badge-abstained { background: #fef3c7; color: #78350f; border-color: #fcd34d; }
.badge-partial { background: #e0f2fe; color: #0c4a6e; border-color: #7dd3fc; }
.confidence { opacity: 0.8; font-weight: normal; }
.badge-refused { background: #fee2e2; color: #7f1d1d; border-color: #fca5a5; }
.badge-help { background: #dbeafe; color: #1e3a8a; border-color: #93c5fd; }
.badge-invalid { background: #e5e7eb; color: #1f2937; border-color: #9ca3af; }
.disclaimer { display: block; margin-top: 0.6em; padding-top: 0.4em; font-size: 0.85em;
              opacity: 0.8; border-top: 1px dashed var(--border-color-primary); }
.panel-title { font-weight: 600; font-size: 0.8em; text-transform: uppercase;
               letter-spacing: 0.06em; opacity: 0.7; margin: 0.2em 0 0.4em; }
.standalone { font-style: italic; margin: 0 0 0.4em; }
.standalone-same { opacity: 0.7; font-size: 0.85em; }
.source { border: 1px solid var(--border-color-primary); border-radius: 8px;
          padding: 8px 12px; margin: 0 0 10px; background: var(--block-background-fill); }
.source-head { display: flex; gap: 8px; align-items: baseline; font-size: 0.85em;
               margin-bottom: 4px; }
.source-num { font-weight: 700; }
.source-section { opacity: 0.75; }
.passage { margin: 0; line-height: 1.5; font-size: 0.92em; }
.passage mark { background: #fde68a; color: #111827; padding: 0 2px; border-radius: 3px; }
.empty { opacity: 0.6; font-size: 0.9em; }
.timings { width: 100%; font-size: 0.82em; border-collapse: collapse; }
.timings, .timings tr, .timings td { border: none !important; background: none !important; }
.timings td { padding: 1px 4px; white-space: nowrap; }
.timings .bar { background: #93c5fd; height: 8px; border-radius: 4px; min-width: 1px; }
.timings .barcell { width: 60%; }
.timings tr.total td { font-weight: 700; border-top: 1px solid var(--border-color-primary); }
#examples button { font-size: 0.85em !important; }
#article { max-width: 860px; margin: 0 auto; }
"""


# --------------------------------------------------------------------------------------------
# Rendering a Reply (pure functions: testable without a server)


def as_text(message: object) -> str:
    """User text made inert for the markdown chat: HTML escaped, markdown syntax escaped."""
    text = message if isinstance(message, str) else ""
    text = html.escape(text, quote=True)
    text = re.sub(r"([\\`*_{}\[\]()#!|~$])", r"\\\1", text)
    # list markers only mean something at the start of a line
    text = re.sub(r"(?m)^(\s*)([-+])(?=\s)", r"\1\\\2", text)
    return re.sub(r"(?m)^(\s*\d+)\.(?=\s)", r"\1\\.", text)


def badge_html(status: str, reason: str | None = None, confidence: float | None = None) -> str:
    """The status badge; with a confidence, how sure the assistant is that its quotes answer."""
    kind, label = REASON_BADGES.get(reason or "") or BADGES.get(status, BADGES["invalid"])
    reason_attr = f' data-reason="{html.escape(reason)}"' if reason else ""
    sure = ""
    if confidence is not None:
        sure = f' <span class="confidence" data-confidence="{confidence:.3f}">· {confidence:.0%} sure</span>'
    return (
        f'<span class="badge badge-{kind}" data-status="{html.escape(status)}"{reason_attr}>'
        f"{label}{sure}</span>"
    )


def _badge(reply_dict: dict) -> str:
    return badge_html(
        reply_dict.get("status", "invalid"),
        reply_dict.get("refusal_reason"),
        reply_dict.get("confidence"),
    )


def answer_markdown(reply_dict: dict) -> str:
    """The bot's chat message: badge (not for plain answers), the answer, the disclaimer."""
    disclaimer = reply_dict.get("disclaimer", "")
    # the contract's answer ends with the disclaimer; the page shows it apart, in smaller type
    body = reply_dict.get("answer", "").removesuffix(disclaimer).rstrip()
    parts = []
    if reply_dict.get("status") != "answered" or reply_dict.get("confidence") is not None:
        parts.append(_badge(reply_dict))
    parts.append(body)
    if disclaimer:
        parts.append(f'<span class="disclaimer">{disclaimer.strip("*")}</span>')
    return "\n\n".join(p for p in parts if p)


def _passage_around(text: str, start: int, end: int) -> tuple[str, str, str]:
    """The paragraph holding text[start:end], trimmed to CONTEXT_CHARS either side."""
    para_start = text.rfind("\n\n", 0, start)
    para_start = 0 if para_start < 0 else para_start + 2
    para_end = text.find("\n\n", end)
    para_end = len(text) if para_end < 0 else para_end
    before = text[para_start:start]
    after = text[end:para_end]
    if len(before) > CONTEXT_CHARS:
        cut = before.find(" ", len(before) - CONTEXT_CHARS)
        before = "… " + before[cut + 1 :]
    if len(after) > CONTEXT_CHARS:
        cut = after.rfind(" ", 0, CONTEXT_CHARS)
        after = after[: cut if cut > 0 else CONTEXT_CHARS] + " …"
    return mask_doses(before.lstrip("#> ")), text[start:end], mask_doses(after)


def sources_html(reply_dict: dict, texts: dict[str, str]) -> str:
    """Each cited quote highlighted inside its paragraph, with its section."""
    sources = reply_dict.get("sources") or []
    if not sources:
        return (
            '<div class="panel-title">Sources</div><p class="empty">No quotes for this reply.</p>'
        )
    cards = ['<div class="panel-title">Sources</div><div class="sources">']
    for source in sources:
        text = texts.get(source.get("document", "article"), "")
        start, end = source["start"], source["end"]
        if text[start:end] == source["quote"]:
            before, quote, after = _passage_around(text, start, end)
        else:  # never expected: guard_out verifies every quote
            before, quote, after = "", source["quote"], ""
        cards.append(
            f'<div class="source" id="source-{int(source["id"])}">'
            f'<div class="source-head"><span class="source-num">[{int(source["id"])}]</span>'
            f'<span class="source-section">§ {html.escape(source.get("section", ""))}</span></div>'
            f'<p class="passage">{html.escape(before)}<mark>{html.escape(quote)}</mark>'
            f"{html.escape(after)}</p></div>"
        )
    cards.append("</div>")
    return "".join(cards)


def details_html(reply_dict: dict, turn: int = 0) -> str:
    """Status badge and the standalone question the turn used (``turn``: its number in the
    conversation, for whoever waits on the page)."""
    question = reply_dict.get("question", "")
    standalone = reply_dict.get("standalone_question", "") or question
    same = standalone.strip() == question.strip()
    note = (
        '<div class="standalone-same">(self-contained: used as asked)</div>'
        if same
        else '<div class="standalone-same">(rewritten from your follow-up)</div>'
    )
    return (
        f'<div class="details" data-turn="{int(turn)}">'
        f"{_badge(reply_dict)}"
        f'<div class="panel-title" style="margin-top:0.8em">Standalone question</div>'
        f'<p class="standalone" id="standalone">{html.escape(standalone)}</p>{note}</div>'
    )


def timings_html(reply_dict: dict) -> str:
    """Per-stage timings as a small bar table."""
    timings = reply_dict.get("timings_ms") or {}
    total = timings.get("total") or sum(timings.values()) or 1.0
    rows = []
    for stage in (*STAGES, *(k for k in timings if k not in (*STAGES, "total"))):
        if stage not in timings:
            continue
        ms = timings[stage]
        width = max(0.5, 100 * ms / total)
        rows.append(
            f"<tr><td>{html.escape(stage)}</td><td class='barcell'><div class='bar' "
            f"style='width:{width:.1f}%'></div></td><td>{ms:.1f} ms</td></tr>"
        )
    rows.append(f"<tr class='total'><td>total</td><td></td><td>{total:.1f} ms</td></tr>")
    return (
        '<div class="panel-title">Timings</div><table class="timings" id="timings">'
        + "".join(rows)
        + "</table>"
    )


EMPTY_DETAILS = (
    '<div class="details" data-turn="0"><div class="panel-title">Reply details</div>'
    '<p class="empty">Ask a question: the status, the standalone question used, the cited '
    "passages and the timings appear here.</p></div>"
)


# --------------------------------------------------------------------------------------------
# The page


def build_app(assistant, concurrency: int = CONCURRENCY):
    """The Gradio Blocks around one loaded Assistant; ``concurrency`` turns run at once."""
    import gradio as gr

    from assistant.corpus import parse_front_matter

    texts = assistant.resources.texts
    profile = assistant.profile

    def run_turn(message: object, turns: Sequence) -> tuple[dict, list]:
        """One turn through the session layer (it never raises; a failure is status error)."""
        if not isinstance(message, str | bytes):
            message = ""
        reply, turns = assistant.turn(message, tuple(turns or ()))
        return reply.to_dict(), list(turns)

    def respond(message, messages, turns):
        """Show the question, answer it, stream the reply into the chat; fill the side panel."""
        messages = [*(messages or []), {"role": "user", "content": as_text(message) or "&nbsp;"}]
        keep = gr.skip()
        yield [*messages, _bot("…")], keep, keep, keep, keep
        reply, turns = run_turn(message, turns)
        full = answer_markdown(reply)
        for partial in _stream(full):
            yield [*messages, _bot(partial)], keep, keep, keep, keep
            time.sleep(STREAM_DELAY_S)
        yield (
            [*messages, _bot(full)],
            turns,
            details_html(reply, len(messages) // 2 + 1),
            sources_html(reply, texts),
            timings_html(reply),
        )

    def ask(message, turns):
        """The API: one turn in this client's conversation; the Reply JSON."""
        reply, turns = run_turn(message, turns)
        return reply, turns

    def reset_page():
        return [], [], EMPTY_DETAILS, "", "", ""

    # every document of the corpus, each under its own heading
    bodies = [text[parse_front_matter(text)[1] :].strip() for _, text in sorted(texts.items())]
    body = "\n\n---\n\n".join(bodies)
    source = profile.source

    with gr.Blocks(title=profile.title, analytics_enabled=False) as demo:
        gr.Markdown(f"# {profile.title}\n{profile.subtitle}", elem_id="title")
        turns = gr.State([])
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"), gr.Row(equal_height=False):
                with gr.Column(scale=7):
                    chatbot = gr.Chatbot(
                        elem_id="chat",
                        height=600,
                        show_label=False,
                        sanitize_html=True,
                        render_markdown=True,
                        feedback_options=None,
                        buttons=["copy", "copy_all"],  # no "share": it posts to the Hub
                        placeholder=f"Ask something about {source}, or pick an example.",
                    )
                    with gr.Row():
                        box = gr.Textbox(
                            placeholder=f"Ask a question about {source}…",
                            show_label=False,
                            scale=8,
                            max_lines=4,
                            elem_id="question",
                            autofocus=True,
                        )
                        send = gr.Button("Ask", variant="primary", scale=1, elem_id="send")
                    with gr.Row(elem_id="examples"):
                        example_buttons = [
                            gr.Button(q, size="sm", variant="secondary")
                            for q in profile.examples[:4]
                        ]
                    new = gr.Button("New conversation", size="sm", elem_id="new-conversation")
                with gr.Column(scale=5):
                    details = gr.HTML(EMPTY_DETAILS, elem_id="details")
                    sources = gr.HTML("", elem_id="sources")
                    timings = gr.HTML("", elem_id="timings-panel")
            tab = source.removeprefix("the ").capitalize()
            with gr.Tab(tab, id="article-tab"):
                gr.Markdown(body, elem_id="article")

        # Take the question out of the box at once (so typing the next one is never
        # overwritten), then answer it; one turn at a time per tab.
        pending = gr.State("")
        outputs = [chatbot, turns, details, sources, timings]
        take = {"fn": lambda m: ("", m), "outputs": [box, pending], "queue": False,
                "api_visibility": "private"}  # fmt: skip
        chat = {"fn": respond, "inputs": [pending, chatbot, turns], "outputs": outputs,
                "concurrency_id": "chain", "concurrency_limit": concurrency,
                "api_visibility": "private"}  # fmt: skip
        box.submit(inputs=[box], **take).then(**chat)
        send.click(inputs=[box], **take).then(**chat)
        for button in example_buttons:
            button.click(inputs=[button], **take).then(**chat)
        new.click(reset_page, None, [*outputs, box], api_visibility="private")
        chatbot.clear(reset_page, None, [*outputs, box], api_visibility="private")

        # The API: a stateful conversation per gradio_client session (hidden from the page).
        api_turns = gr.State([])
        api_message = gr.Textbox(visible=False)
        api_reply = gr.JSON(visible=False, label="reply")
        api_ask = gr.Button(visible=False)
        api_reset = gr.Button(visible=False)
        api_ask.click(
            ask,
            [api_message, api_turns],
            [api_reply, api_turns],
            api_name="ask",
            api_description="Ask one question (follow-ups use this client's earlier turns); "
            "returns the Reply JSON: question, standalone_question, status, answer, sources, "
            "disclaimer, timings_ms.",
            concurrency_id="chain",
            concurrency_limit=concurrency,
        )
        api_reset.click(
            lambda: [],
            None,
            [api_turns],
            api_name="new_conversation",
            api_description="Forget this client's earlier turns.",
        )
    return demo


def _bot(content: str) -> dict:
    return {"role": "assistant", "content": content}


def _stream(text: str) -> Iterator[str]:
    """Growing prefixes of ``text``, a few words at a time, never splitting an HTML tag."""
    tokens = re.findall(r"<[^>]*>|\S+\s*|\s+", text)
    out, words = "", 0
    for token in tokens:
        out += token
        if not token.startswith("<"):
            words += 1
        if words >= STREAM_CHUNK_WORDS:
            words = 0
            yield out
    if out:
        yield out


def mounted_app(demo, assistant, concurrency: int = CONCURRENCY):
    """One process, one port: FastAPI with the OpenAI-compatible /v1 routes and the page
    mounted at /. No share link, no analytics, no server-side render; with
    ``ASSISTANT_API_KEY`` set, /v1 wants ``Authorization: Bearer <key>`` and the page the key as
    its password."""
    import gradio as gr

    from assistant.api import build_api

    settings = assistant.settings
    font = (
        gr.themes.LocalFont("Source Sans Pro", weights=(400, 700)),
        "ui-sans-serif",
        "system-ui",
        "sans-serif",
    )
    theme = gr.themes.Soft(primary_hue="indigo", neutral_hue="slate", font=font)
    key = settings.api_key
    return gr.mount_gradio_app(
        build_api(assistant, settings),
        demo.queue(default_concurrency_limit=concurrency),
        path="/",
        footer_links=["api"],
        auth=(lambda _user, password: hmac.compare_digest(password, key)) if key else None,
        auth_message="Sign in with any user name and the API key as the password." if key else None,
        show_error=False,
        ssr_mode=False,
        theme=theme,
        css=CSS,
    )


def create_app():
    """The app of one worker process, from the environment (``uvicorn --factory app:create_app``,
    used for ``--workers N``: give them one ``ASSISTANT_CHROMA_URL``)."""
    from assistant.chain import Assistant

    concurrency = int(os.environ.get("ASSISTANT_CONCURRENCY", CONCURRENCY))
    assistant = Assistant(Settings())
    assistant.warm_up()  # every model loaded before the port opens: no cold first requests
    return mounted_app(build_app(assistant, concurrency), assistant, concurrency)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST, help=f"address to bind (default {HOST})")
    parser.add_argument("--port", type=int, default=PORT, help=f"port (default {PORT})")
    parser.add_argument(
        "--concurrency", type=int, default=CONCURRENCY, help="turns answered at once (default 4)"
    )
    parser.add_argument("--index-dir", help="index folder (default: ASSISTANT_INDEX_DIR or index/)")
    parser.add_argument(
        "--workers", type=int, default=1, help="processes (more than 1 needs ASSISTANT_CHROMA_URL)"
    )
    parser.add_argument("--llm", metavar="PROVIDER:MODEL", help="the writer (env ASSISTANT_LLM)")
    parser.add_argument("--llm-base-url", metavar="URL", help="its server (ASSISTANT_LLM_BASE_URL)")
    args = parser.parse_args(argv)
    handler = logging.StreamHandler()
    handler.setLevel(logging.INFO)  # bm25s sets its own logger to DEBUG when imported
    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", handlers=[handler]
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Gradio's requests to itself

    import uvicorn

    if args.index_dir:
        os.environ["ASSISTANT_INDEX_DIR"] = args.index_dir
    os.environ["ASSISTANT_CONCURRENCY"] = str(args.concurrency)
    for name, value in (("ASSISTANT_LLM", args.llm), ("ASSISTANT_LLM_BASE_URL", args.llm_base_url)):
        if value:
            os.environ[name] = value
    if args.workers > 1 and not Settings().chroma_url:
        print("--workers needs a shared index: set ASSISTANT_CHROMA_URL.", file=sys.stderr)
        return 2
    print("Loading the assistant (the index builds itself on first run)…", file=sys.stderr)
    if args.workers > 1:
        uvicorn.run(
            "app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level="warning",
            app_dir=str(Path(__file__).parent),
            timeout_keep_alive=KEEP_ALIVE_S,
        )
    else:
        try:
            app = create_app()
        except (ValueError, ImportError) as error:  # a bad --llm, say: one line, no traceback
            print(f"app.py: {error}", file=sys.stderr)
            return 2
        uvicorn.run(
            app,
            host=args.host,
            port=args.port,
            log_level="warning",
            timeout_keep_alive=KEEP_ALIVE_S,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
