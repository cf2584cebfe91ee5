"""The assistant as an OpenAI-compatible chat-completions service, beside the page.

    GET  /v1/models              one model id for the corpus
    POST /v1/chat/completions    OpenAI request and response shapes; ``stream: true`` sends SSE

Stateless, as with any OpenAI model: the conversation comes from ``messages``. The earlier user
messages are the history the follow-up needs (``Assistant.follow``: each is answered once, its
turn remembered per prefix, so a client that sends the growing conversation costs one chain
run per request). The message content is the reply's answer as shown (its [n] markers, then
the disclaimer); the whole reply (sources, status, confidence, standalone question, refusal
reason, timings) travels in the response's extra field ``reply``. A streamed reply also
carries its quotes as a ``source`` event on the last chunk (``citations.py``), which Open WebUI
shows as citation chips. A client's background request (a title, tags, follow-ups: by its
shape, ``tasks.py``) gets the JSON it asks for, without the chain.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.citations import source_event
from assistant.tasks import TaskAnswers, background_task

ROLES = ("system", "developer", "user", "assistant", "tool")
STREAM_WORDS = 4  # words per streamed chunk

log = logging.getLogger("assistant.api")


class ApiError(Exception):
    """A request the API refuses: an HTTP status and an OpenAI-style error object."""

    def __init__(self, status: int, message: str, kind: str, code: str, param: str | None = None):
        super().__init__(message)
        self.status, self.kind, self.code, self.param = status, kind, code, param

    def body(self) -> dict:
        return {
            "error": {
                "message": str(self),
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        }


class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["text"]
    text: str


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(part.text for part in self.content)
        return self.content or ""


class ChatRequest(BaseModel):
    """The fields we read; the other OpenAI options (temperature, ...) are accepted and ignored:
    the answer is extractive."""

    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[Message] = Field(min_length=1)
    stream: bool = False


def parse_request(raw: bytes) -> ChatRequest:
    """The request body, or an ApiError saying what is wrong with it."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(
            400, "The request body is not valid JSON.", "invalid_request_error", "invalid_json"
        ) from None
    if not isinstance(data, dict):
        raise ApiError(
            400, "The request body must be a JSON object.", "invalid_request_error", "invalid_json"
        )
    try:
        request = ChatRequest.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        param = ".".join(str(p) for p in first["loc"])
        raise ApiError(
            400,
            f"Invalid '{param}': {first['msg']}.",
            "invalid_request_error",
            "invalid_value",
            param,
        ) from None
    if request.messages[-1].role != "user":
        raise ApiError(
            400,
            "The last message must have role 'user'.",
            "invalid_request_error",
            "invalid_value",
            "messages",
        )
    return request


class RateLimiter:
    """At most ``per_minute`` requests from one client in any 60 seconds (0: no limit)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, client: str) -> bool:
        if self.per_minute <= 0:
            return True
        now = time.monotonic()
        with self._lock:
            seen = self._seen.setdefault(client, deque())
            while seen and now - seen[0] > 60:
                seen.popleft()
            if len(seen) >= self.per_minute:
                return False
            seen.append(now)
            return True


def _words(text: str) -> Iterator[str]:
    parts = text.split(" ")
    for at in range(0, len(parts), STREAM_WORDS):
        chunk = " ".join(parts[at : at + STREAM_WORDS])
        yield chunk if at + STREAM_WORDS >= len(parts) else chunk + " "


def build_api(assistant, settings) -> FastAPI:
    """The FastAPI app with the /v1 routes; the page is mounted on it by app.py."""
    model_id = settings.model_id
    tasks: list[TaskAnswers] = []  # made on the first background request
    tasks_lock = threading.Lock()
    limiter = RateLimiter(settings.rate_limit_per_minute)
    app = FastAPI(title="Ask the article", docs_url=None, redoc_url=None, openapi_url=None)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, error: ApiError):
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
        return JSONResponse(error.body(), status_code=error.status, headers=headers)

    @app.exception_handler(Exception)
    async def server_error(_request: Request, error: Exception):
        """A failure outside a turn (a turn never raises): one line, the traceback logged."""
        log.error("request failed", exc_info=error)
        message = "Something went wrong on our side; please try again."
        return JSONResponse(ApiError(500, message, "server_error", "internal").body(), 500)

    def admit(request: Request) -> None:
        """Auth, then the rate limit; raise ApiError when the request may not go on."""
        if settings.api_key:
            given = request.headers.get("authorization", "")
            expected = f"Bearer {settings.api_key}"
            if not hmac.compare_digest(given.encode(), expected.encode()):
                raise ApiError(
                    401,
                    "Missing or wrong API key (Authorization: Bearer <key>).",
                    "invalid_request_error",
                    "invalid_api_key",
                )
        client = request.client.host if request.client else "unknown"
        if not limiter.allow(client):
            raise ApiError(
                429,
                f"Too many requests: at most {settings.rate_limit_per_minute} a minute.",
                "rate_limit_error",
                "rate_limit_exceeded",
            )

    @app.get("/v1/models")
    async def models(request: Request):
        admit(request)
        return {
            "object": "list",
            "data": [{"id": model_id, "object": "model", "created": 0, "owned_by": "assistant"}],
        }

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        admit(request)
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > settings.max_request_bytes:
            raise ApiError(
                413,
                f"The request is larger than {settings.max_request_bytes} bytes.",
                "invalid_request_error",
                "request_too_large",
            )
        raw = await request.body()
        if len(raw) > settings.max_request_bytes:
            raise ApiError(
                413,
                f"The request is larger than {settings.max_request_bytes} bytes.",
                "invalid_request_error",
                "request_too_large",
            )
        body = parse_request(raw)
        if body.model != model_id:
            raise ApiError(
                404,
                f"The model '{body.model}' does not exist; use '{model_id}'.",
                "invalid_request_error",
                "model_not_found",
                "model",
            )
        users = [m.text() for m in body.messages if m.role == "user"]

        def answer() -> dict:
            return assistant.follow(users).to_dict()

        def answer_task() -> tuple[object, str | dict | None]:
            """The task and its answer; its reply when it is no task after all; or no task."""
            task = background_task(users[-1])
            if task is None:
                return None, None
            with tasks_lock:
                if not tasks:
                    tasks.append(TaskAnswers.of(assistant))
            help_for = tasks[0].needs_help(task)
            if help_for is not None:  # the chain's reply to those words, with its help
                return None, assistant.reply(help_for).to_dict()
            return task, tasks[0].answer(task)

        task, done = await asyncio.to_thread(answer_task)
        if task is None:
            reply = done if isinstance(done, dict) else await asyncio.to_thread(answer)
            content, extra = reply["answer"], {"reply": reply}
            event = source_event(reply, assistant.profile.title)
        else:
            content, extra, event = done, {"task": task.kind or task.key}, None
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        if not body.stream:
            return {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model_id,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                **extra,
            }

        def chunk(delta: dict, finish: str | None = None, extra: dict | None = None) -> str:
            data = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model_id,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **(extra or {}),
            }
            return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

        def events() -> Iterator[str]:
            yield chunk({"role": "assistant", "content": ""})
            for words in _words(content):
                yield chunk({"content": words})
            yield chunk({}, "stop", {**extra, **({"event": event} if event else {})})
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app
