"""The router: which route a message takes, learned from example requests.

Each example in ``examples.jsonl`` is a message labelled with a learned route (``small_talk``,
``task``, ``document:<kind>``, or ``retrieval`` for the look-alikes that ask about a passage).
A multinomial logistic regression over the message's MiniLM sentence vector (the one retrieval
computes anyway) gives each label a probability; the message leaves the retrieval route only
when another label reaches ``threshold``. The regression and its threshold are fitted by
``training/routes.py`` (``make routes``): the threshold is the lowest at which at most 1% of
passage questions (held-out look-alikes, SQuAD questions, the eval suite's) are routed away.
A message that names someone or something the documents cite (the name index) asks about a
passage and stays on the retrieval route. A misspelt word ("auther") is read as the nearest
common word of the examples before the message is embedded (``assistant/spelling.py``), and
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

from assistant.routes.registry import DEFAULT_ROUTE, learned_labels
from assistant.spelling import Speller, is_word

EXAMPLES = Path(__file__).with_name("examples.jsonl")
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


def speller(rows: Sequence[dict], known: Iterable[str] = ()) -> Speller:
    """Reads misspellings as the examples' own English words; a word the documents use
    (``known``) is never read as another."""
    tokens = {w.lower() for r in rows for w in re.findall(r"[A-Za-z]+", r["text"])}
    return Speller((w for w in tokens if len(w) >= 4 and is_word(w)), known)


class Unsubject:
    """Leaves out of a message the words of the documents' titles (by stem), and a short word
    left between two of them ("psychedelics for pain")."""

    def __init__(self, titles: Iterable[str]) -> None:
        from assistant.terms import lexicon

        self.stemmer, self.stopwords = lexicon()
        self.stems = {
            self.stemmer.stemWord(w.lower())
            for title in titles
            for w in re.findall(r"[A-Za-z]+", title)
            if w.lower() not in self.stopwords
        }

    def __call__(self, message: str) -> str:
        """The message without its subject words (itself when nothing else is left)."""
        if not self.stems:
            return message
        tokens = re.findall(r"[A-Za-z]+|[^A-Za-z\s]+", message)
        subject = [t.isalpha() and self.stemmer.stemWord(t.lower()) in self.stems for t in tokens]
        keep = []
        for i, token in enumerate(tokens):
            between = (
                token.lower() in self.stopwords
                and any(subject[:i][-2:])
                and any(subject[i + 1 : i + 3])
            )
            if (
                not subject[i]
                and not between
                and not (token == "-" and any(subject[i - 1 : i + 2]))
            ):
                keep.append(token)
        left = re.sub(r"\s+([?.!,;:])", r"\1", " ".join(keep))
        return left if re.search(r"[A-Za-z]{3}", left) else message


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
        self.speller = speller(read_examples(), known)
        self.unsubject = Unsubject(titles)

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        logits = np.asarray(vectors, dtype=np.float32) @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        odds = np.exp(logits)
        return odds / odds.sum(axis=1, keepdims=True)

    def route(self, message: str) -> RouteDecision:
        """The route of one message (already through the input rails)."""
        if self.names is not None and self.names.find(message):
            return RouteDecision(DEFAULT_ROUTE)
        asked = self.unsubject(self.speller.correct(message))
        probabilities = self.probabilities(self.embed_many([asked]))
        (chosen,) = route_of(probabilities, self.labels, self.threshold)
        route, _, kind = self.labels[chosen].partition(":")
        return RouteDecision(route, kind, float(probabilities[0, chosen]))
