"""The decision after any answerer: which sentences to quote, and how sure we are that they
answer the question.

A calibrator (logistic regressions over the features below, fitted per answerer by
``python -m evals.fit_decision`` on questions of several domains and kept in
``models/answer/decision.json``) turns the answerer's ranking into a **confidence**: the
probability that the chosen quotes hold the answer; and a **relevance**: the probability that
the question is about what the documents cover (fitted on each corpus's own questions against
questions of other corpora). Three outcomes:

- ``answered``  confidence >= ``answer_at``, the threshold set for 90% precision on the
                calibration data: the best sentence and those close to it;
- ``partial``   not that sure, but relevance >= ``relevant_at`` (the question is more likely on
                the documents' subject than not): "not directly; the closest it comes" and the
                same quotes, so a reply's confidence always speaks of the quotes it shows;
- ``abstained`` otherwise: nothing relevant to quote.

What used to be hard rules (a relevance floor, words the documents never use, the answer-type
checks of ``answer_checks.py``) are features here, weighed by data.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from assistant.answer import FEATURES, SentenceScorer, asks_type
from assistant.answerers import Candidates, Ranking
from assistant.config import ROOT
from assistant.terms import content_terms
from assistant.types import Sentence

DECISION_FILE = ROOT / "models" / "answer" / "decision.json"

DECISION_FEATURES = (
    "top",  # the answerer's log-odds for its best sentence
    "margin",  # best minus second best (0 with one candidate)
    "top_similarity",  # cosine of the best sentence with the question
    "max_similarity",  # the highest cosine of any candidate
    "top_lexical",  # IDF-weighted share of the question's words in the best sentence
    "top_rank",  # 1 / fused rank of the best sentence's passage
    "type_found",  # the question asks a kind of answer (who, when, how many ...) the best has
    "type_missing",  # ... and the best sentence lacks it
    "type_quoted",  # ... and one of the chosen quotes has it
    "finding",  # a "what did X find" question, and one of the chosen quotes reports a finding
    "named",  # the question names a person the documents cite
    "unknown_share",  # share of the question's words the documents never use
    "unknown_rare",  # a rare word or a proper name the documents never use
    "missing",  # answer_checks: the quotes lack the count, date, name ... asked for
    "length",  # log(1 + the question's content words)
)
_COLUMN = {name: i for i, name in enumerate(FEATURES)}


@dataclass(frozen=True)
class Logistic:
    """A fitted logistic regression over standardised DECISION_FEATURES."""

    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]

    def __call__(self, x: np.ndarray) -> float:
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        t = float(z @ np.asarray(self.weights)) + self.bias
        # the logistic function, without overflow for extreme log-odds
        return 1.0 / (1.0 + math.exp(-t)) if t >= 0 else math.exp(t) / (1.0 + math.exp(t))

    @classmethod
    def of(cls, data: dict) -> Logistic:
        weights, mean, scale = (tuple(data[k]) for k in ("weights", "mean", "scale"))
        return cls(weights, float(data["bias"]), mean, scale)


@dataclass(frozen=True)
class Calibrator:
    """One answerer's fitted decision (``models/answer/decision.json``)."""

    confidence: Logistic  # P(the chosen quotes hold the answer)
    relevance: Logistic  # P(the question is about what the documents cover)
    answer_at: float  # confidence for ``answered``: 90% precision on the calibration data
    relevant_at: float = 0.5  # below it (and not answered): abstained; above: partial
    keep_within: float = 3.0  # further quotes score within this many log-odds of the best
    max_quotes: int = 4
    min_quotes: int = 1


@cache
def load_calibrators(path: Path = DECISION_FILE) -> dict[str, Calibrator]:
    data = json.loads(path.read_text(encoding="utf-8"))
    fields = set(Calibrator.__dataclass_fields__) - {"confidence", "relevance"}
    out = {}
    for name, entry in data["answerers"].items():
        if entry["features"] != list(DECISION_FEATURES):
            raise ValueError(f"{path}: {name} was fitted on other features; refit it")
        models = {k: Logistic.of(entry[k]) for k in ("confidence", "relevance")}
        out[name] = Calibrator(**models, **{k: v for k, v in entry.items() if k in fields})
    return out


@dataclass(frozen=True)
class Decision:
    status: str  # answered | partial | abstained
    confidence: float | None  # None: nothing to decide on (no candidate sentence)
    sentences: tuple[Sentence, ...]  # in reading order
    reason: str = ""  # not answered: why, when known (a word never used, a date not given)


def choose_quotes(ranking: Ranking, calibrator: Calibrator) -> list[int]:
    """The best candidate and those within ``keep_within`` of it, at least ``min_quotes``."""
    best = ranking[0][1]
    chosen = [i for i, s in ranking[: calibrator.max_quotes] if s >= best - calibrator.keep_within]
    for i, _ in ranking[len(chosen) : calibrator.min_quotes]:
        chosen.append(i)
    return chosen


def features(
    candidates: Candidates, ranking: Ranking, chosen: list[int], scorer: SentenceScorer
) -> np.ndarray:
    """The decision's features (DECISION_FEATURES) for this ranking and these quotes."""
    question, rows = candidates.question, candidates.features
    top, score = ranking[0]
    second = ranking[1][1] if len(ranking) > 1 else score
    asked = asks_type(question)
    has_type = bool(rows[top, _COLUMN["answer_type"]])
    quoted_type = any(rows[i, _COLUMN["answer_type"]] for i in chosen)
    quotes = [candidates.sentences[i].text for i in chosen]
    unknown = scorer.unknown_terms(question)
    return np.asarray(
        [
            score,
            score - second,
            rows[top, _COLUMN["similarity"]],
            rows[:, _COLUMN["similarity"]].max(),
            rows[top, _COLUMN["lexical"]],
            rows[top, _COLUMN["rank"]],
            float(asked and has_type),
            float(asked and not has_type),
            float(asked and quoted_type),
            float(any(rows[i, _COLUMN["finding"]] for i in chosen)),
            float(candidates.names_asked),
            scorer.unknown_share(question, candidates.name_terms),
            float(bool(unknown)),
            float(bool(scorer.missing(question, quotes, candidates.name_terms))),
            math.log1p(len(content_terms(question))),
        ],
        dtype=np.float64,
    )


def decide(
    candidates: Candidates, ranking: Ranking, calibrator: Calibrator, scorer: SentenceScorer
) -> Decision:
    """Quotes and a calibrated confidence, and the status that follows from it."""
    if not ranking:
        return Decision("abstained", None, ())
    chosen = choose_quotes(ranking, calibrator)
    x = features(candidates, ranking, chosen, scorer)
    confidence = calibrator.confidence(x)
    if confidence >= calibrator.answer_at:
        return Decision("answered", confidence, _in_order(candidates, chosen))
    why = _why_not(candidates, chosen, scorer)
    if calibrator.relevance(x) >= calibrator.relevant_at:  # the same quotes, as the closest
        return Decision("partial", confidence, _in_order(candidates, chosen), why)
    return Decision("abstained", confidence, (), why)


def _in_order(candidates: Candidates, chosen: list[int]) -> tuple[Sentence, ...]:
    found = (candidates.sentences[i] for i in chosen)
    return tuple(sorted(found, key=lambda s: (s.doc_id, s.start)))


def _why_not(candidates: Candidates, chosen: list[int], scorer: SentenceScorer) -> str:
    """What the reply can tell the reader about why the documents do not answer: a word they
    never use, or what the quotes lack (a date, a count, a name); "" when nothing is known."""
    unknown = scorer.unknown_terms(candidates.question)
    if unknown:
        return f"it never mentions {', '.join(unknown)}"
    quotes = [candidates.sentences[i].text for i in chosen]
    return scorer.missing(candidates.question, quotes, candidates.name_terms)
