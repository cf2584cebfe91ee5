"""assistant/api.py without a server: request parsing, the history rebuilt from messages, the
rate limit. The real server, with the openai client, is in tests/integration/test_api_server.py."""

from __future__ import annotations

import json

import pytest

from assistant.api import ApiError, RateLimiter, parse_request
from assistant.types import Reply


def body(**fields) -> bytes:
    return json.dumps({"model": "m", **fields}).encode()


def test_a_good_request_parses_and_reads_text_parts():
    request = parse_request(
        body(
            messages=[{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
            temperature=0.2,
        )
    )
    assert request.messages[0].text() == "hi" and not request.stream


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"nope", "invalid_json"),
        (b'"a string"', "invalid_json"),
        (body(messages=[]), "invalid_value"),
        (body(messages=[{"role": "robot", "content": "x"}]), "invalid_value"),
        (body(messages=[{"role": "user", "content": [{"type": "image_url"}]}]), "invalid_value"),
        (
            body(
                messages=[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
            ),
            "invalid_value",
        ),
    ],
)
def test_bad_requests_raise_an_api_error_with_a_code(raw, code):
    with pytest.raises(ApiError) as error:
        parse_request(raw)
    assert error.value.status == 400 and error.value.body()["error"]["code"] == code


class FakeAssistant:
    class settings:  # noqa: N801 - mimics Settings
        history_turns = 6

    def __init__(self):
        self.calls = []

    def reply(self, message, history=()):
        self.calls.append((message, len(history)))
        return Reply(message, message, "answered", "a")


def test_the_rate_limit_counts_per_client():
    limiter = RateLimiter(2)
    assert limiter.allow("a") and limiter.allow("a") and not limiter.allow("a")
    assert limiter.allow("b")
    assert all(RateLimiter(0).allow("a") for _ in range(100))
