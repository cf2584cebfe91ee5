"""A reply's quotes as the citation event chat clients show natively.

Open WebUI reads an ``event`` object on a streamed chunk and hands it to its page; an event of
type ``source`` carries ``document`` and ``metadata`` as parallel lists, one entry a cited
passage, and the page merges entries whose ``metadata.source`` is the same. So each quote gets
its own ``source`` id (the document and the quote's offsets) and a short ``name`` (its section),
in the reply's ``[n]`` order: the page shows chips ``[1]``..``[n]`` and the passage on click.
Other OpenAI clients ignore the extra field.
"""

from __future__ import annotations

LABEL_CHARS = 30  # a citation chip's label


def short_label(text: str, limit: int = LABEL_CHARS) -> str:
    """The text cut at a word boundary to at most ``limit`` characters, with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] if " " in text[: limit - 1] else text[: limit - 1]
    return cut.rstrip(" ,;:-") + "…"


def source_event(reply: dict, title: str) -> dict | None:
    """The ``source`` event for a reply (``Reply.to_dict()``), or None when it quotes nothing.
    ``title`` names the corpus (the profile's title) for the event's ``source``."""
    sources = reply.get("sources") or []
    if not sources:
        return None
    return {
        "type": "source",
        "data": {
            "source": {"id": "corpus", "name": title},
            "document": [s["quote"] for s in sources],
            "metadata": [
                {
                    "source": f"{s['document']}:{s['start']}-{s['end']}",
                    "name": short_label(f"[{s['id']}] {s['section'] or s['document']}"),
                    "document": s["document"],
                    "section": s["section"],
                    "start": s["start"],
                    "end": s["end"],
                }
                for s in sources
            ],
        },
    }
