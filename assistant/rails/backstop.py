"""The embedding backstop behind the lexical dosing rules: a message close to a canonical
dosing request, and clearly closer to it than to any safe dosing-adjacent question.

Thresholds and anchors in ``data/dosing.toml`` (``[backstop]``), calibrated there."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from assistant.rails.data import load, pattern
from assistant.rails.dosing import about_substance
from assistant.rails.normalise import detection_form

if TYPE_CHECKING:
    import numpy as np

Embed = Callable[[list[str]], "np.ndarray"]

_anchor_cache: dict[object, tuple[np.ndarray, np.ndarray]] = {}
_anchor_lock = threading.Lock()


@functools.cache
def settings() -> dict:
    data = load("dosing")
    backstop = data["backstop"]
    return backstop | {"cue": pattern(backstop["intent_cue"], data["fragments"])}


def _anchor_vectors(embed: Embed) -> tuple[np.ndarray, np.ndarray]:
    """Canonical dosing requests and adjacent questions, embedded once per embed function."""
    vectors = _anchor_cache.get(embed)
    if vectors is None:
        with _anchor_lock:
            vectors = _anchor_cache.get(embed)
            if vectors is None:
                import numpy as np

                s = settings()
                matrix = np.asarray(embed([*s["requests"], *s["adjacent"]]), dtype=np.float32)
                n = len(s["requests"])
                vectors = (matrix[:n], matrix[n:])
                if len(_anchor_cache) > 8:
                    _anchor_cache.clear()
                _anchor_cache[embed] = vectors
    return vectors


def embedding_scores(text: str, embed: Embed) -> tuple[float, float]:
    """(similarity to the nearest dosing request, to the nearest adjacent question); one embed call."""
    import numpy as np

    dosing, adjacent = _anchor_vectors(embed)
    query = np.asarray(embed([text]), dtype=np.float32).reshape(-1)
    return float(np.max(dosing @ query)), float(np.max(adjacent @ query))


def embedding_says_dosing(text: str, embed: Embed) -> bool:
    """MiniLM similarity is dominated by topic words, so it only counts when the message also
    carries a word of intake, quantity or personal use, and is about a substance ("how many
    milligrams are in a gram?" is close to a dosing request, and no dosing request)."""
    s = settings()
    d = detection_form(text)
    if not s["cue"].search(d) or not about_substance(d):
        return False
    sim, safe = embedding_scores(text, embed)
    return sim >= s["refuse_at"] or (sim >= s["min_similarity"] and sim - safe >= s["margin"])
