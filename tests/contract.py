"""The reply contract of ../shared/DESIGN.md, written once for every test that checks it."""

from assistant.rails.registry import REASONS as RAILS
from assistant.registry import STATUSES as STATUS_REGISTRY

STATUSES = set(STATUS_REGISTRY)
REPLY_KEYS = {
    "question",
    "standalone_question",
    "status",
    "confidence",  # the probability that the quotes answer; null when no answer was decided
    "refusal_reason",
    "route",  # the kind of turn (assistant/routes/routes.toml)
    "answer",
    "sources",
    "disclaimer",
    "writer",  # "extractive", or the model that wrote the prose
    "writer_checks",
    "timings_ms",
}
REASONS = {None, *RAILS}
SOURCE_KEYS = {"id", "quote", "start", "end", "section", "document"}
