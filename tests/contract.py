"""The reply contract of ../shared/DESIGN.md, written once for every test that checks it."""

STATUSES = {"answered", "abstained", "refused", "invalid"}
REPLY_KEYS = {
    "question",
    "standalone_question",
    "status",
    "answer",
    "sources",
    "disclaimer",
    "timings_ms",
}
SOURCE_KEYS = {"id", "quote", "start", "end", "section", "document"}
