"""The router: which route a message takes, learned from example requests.

Each example in ``training/data/routes/examples.jsonl`` is a message labelled with a learned route (``small_talk``,
``task``, ``document:<kind>``, or ``retrieval`` for the look-alikes that ask about a passage).
A multinomial logistic regression over the message's MiniLM sentence vector (the one retrieval
computes anyway) and its words and word pairs (TF-IDF, ``reading.py``) gives each label a
probability; the message leaves the retrieval route only
when another label reaches ``threshold``. The regression and its threshold are fitted by
``training/routes.py`` (``make routes``): the threshold is the lowest at which at most 1% of
passage questions (held-out look-alikes, SQuAD questions, the eval suite's) are routed away.
A message that names someone or something the documents cite (the name index), or quotes a
phrase (a title, a term), asks about a passage and stays on the retrieval route. A misspelt word ("auther") is read as the nearest
common word of the examples (``spelling`` in the fitted model) before the message is embedded (``assistant/spelling.py``), and
the words of the documents' own titles are left out: "what does this piece on psychedelics for
pain conclude?" asks what the piece concludes, as the examples (about any subject) put it."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.routes.reading import Unsubject, WordFeatures
from assistant.routes.registry import DEFAULT_ROUTE, learned_labels
from assistant.spelling import Speller

# the labelled examples the router is fitted on (training/routes.py); a reply never reads them
EXAMPLES = Path(__file__).parents[2] / "training" / "data" / "routes" / "examples.jsonl"
# a phrase of two words or more in quotes: the title of a work, a term the passage uses
_QUOTED = re.compile(
    r"[\"“][^\"“”]*\w\s+\w[^\"“”]*[\"”]|‘[^‘’]*\w\s+\w[^‘’]*’|(?:^|\s)'[^']*\w\s+\w[^']*'(?=\W|$)"
)
MODEL = Path(__file__).parents[2] / "models" / "routes" / "router.json"


@dataclass(frozen=True)
class RouteDecision:
    """Where a message goes: a route, its kind (what a document question asks), and the
    probability the router gave that label (the retrieval route's own when it stays)."""

    route: str
    kind: str = ""
    probability: float = 0.0


def read_examples(*paths: Path) -> list[dict]:
    """The labelled example requests, checked against the registry."""
    rows = []
    for path in paths or (EXAMPLES,):
        lines = path.read_text(encoding="utf-8").splitlines()
        rows += [json.loads(line) for line in lines if line.strip()]
    unknown = {r["route"] for r in rows} - set(learned_labels())
    if unknown:
        raise ValueError(f"route examples: labels not in routes.toml: {sorted(unknown)}")
    return rows


def examples_hash(rows: Sequence[dict]) -> str:
    text = "\n".join(f"{r['route']}\t{r['text']}" for r in rows)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def route_of(probabilities: np.ndarray, labels: Sequence[str], threshold: float) -> np.ndarray:
    """Per row, the label index it is routed to: the likeliest label other than the default
    route when it reaches ``threshold``, else the default route."""
    default = list(labels).index(DEFAULT_ROUTE)
    others = np.array(probabilities, dtype=np.float64, copy=True)
    others[:, default] = -1.0
    best = others.argmax(axis=1)
    reached = others[np.arange(len(best)), best] >= threshold
    return np.where(reached, best, default)


class Router:
    """Routes a message by the fitted regression (see the module's docstring)."""

    def __init__(
        self,
        embed_many: Callable[[Sequence[str]], np.ndarray],
        names=None,  # assistant.names.NameIndex, or None
        model: dict | None = None,
        known: Iterable[str] = (),  # the documents' words, never read as misspellings
        titles: Iterable[str] = (),  # the documents' titles, their own subject
    ) -> None:
        fitted = model or json.loads(MODEL.read_text(encoding="utf-8"))
        self.embed_many = embed_many
        self.names = names
        self.labels = tuple(fitted["labels"])
        self.coef = np.asarray(fitted["coef"], dtype=np.float32)
        self.intercept = np.asarray(fitted["intercept"], dtype=np.float32)
        self.threshold = float(fitted["threshold"])
        self.speller = Speller(fitted.get("spelling", ()), known)
        self.unsubject = Unsubject(titles)
        vocabulary = fitted.get("vocabulary", ())
        self.words = WordFeatures(vocabulary, fitted["idf"]) if vocabulary else None

    def features(self, texts: Sequence[str]) -> np.ndarray:
        """The sentence vectors, then (when fitted with them) the word features."""
        vectors = np.asarray(self.embed_many(list(texts)), dtype=np.float32)
        return vectors if self.words is None else np.hstack([vectors, self.words(texts)])

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        logits = np.asarray(features, dtype=np.float32) @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        odds = np.exp(logits)
        return odds / odds.sum(axis=1, keepdims=True)

    def route(self, message: str) -> RouteDecision:
        """The route of one message (already through the input rails)."""
        if _QUOTED.search(message) or (self.names is not None and self.names.find(message)):
            return RouteDecision(DEFAULT_ROUTE)
        asked = self.unsubject(self.speller.correct(message))
        probabilities = self.probabilities(self.features([asked]))
        (chosen,) = route_of(probabilities, self.labels, self.threshold)
        route, _, kind = self.labels[chosen].partition(":")
        return RouteDecision(route, kind, float(probabilities[0, chosen]))
