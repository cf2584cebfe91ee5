"""Question–sentence pairs from SQuAD-format data: what the reader is trained and checked on.

A paragraph is split into sentences with the corpus's own splitter, so the reader learns on the
same units it scores at run time. For an answerable question the sentence holding the answer is
the positive; the other sentences of its paragraph are hard negatives, and a sentence from
another paragraph of the same article stands for what retrieval brings by mistake. Every
sentence of an unanswerable question's paragraph is a negative, the plausible-answer sentence
(SQuAD 2.0's ``plausible_answers``) first: it is the hardest one.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from assistant.corpus import split_sentences


@dataclass(frozen=True)
class Pair:
    question: str
    sentence: str
    label: float  # 1.0: the sentence holds the answer


@dataclass(frozen=True)
class Question:
    """One SQuAD question with its paragraph's sentences and which of them hold an answer."""

    article: str
    text: str
    sentences: tuple[str, ...]
    answers: frozenset[int]  # indices of sentences that hold an answer; empty: unanswerable
    plausible: frozenset[int] = frozenset()
    answer_texts: tuple[str, ...] = ()


def _holding(spans: list[tuple[int, int]], answers: list[dict]) -> frozenset[int]:
    """The sentences whose spans hold an answer's start."""
    return frozenset(
        i for a in answers for i, (s, e) in enumerate(spans) if s <= a["answer_start"] < e
    )


def read_squad(path: Path) -> list[Question]:
    """Every question of a SQuAD 2.0 file, with its paragraph split into sentences."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    out = []
    for article in data:
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            spans = split_sentences(context)
            sentences = tuple(context[s:e] for s, e in spans)
            for qa in paragraph["qas"]:
                out.append(
                    Question(
                        article=article["title"],
                        text=qa["question"].strip(),
                        sentences=sentences,
                        answers=frozenset()
                        if qa.get("is_impossible")
                        else _holding(spans, qa["answers"]),
                        plausible=_holding(spans, qa.get("plausible_answers", [])),
                        answer_texts=tuple(a["text"] for a in qa["answers"]),
                    )
                )
    return out


def training_pairs(
    questions: list[Question], seed: int = 13, in_paragraph: int = 4, elsewhere: int = 1
) -> list[Pair]:
    """Positives and hard negatives, shuffled with ``seed``."""
    rng = random.Random(seed)
    by_article: dict[str, list[Question]] = {}
    for q in questions:
        by_article.setdefault(q.article, []).append(q)
    pairs: list[Pair] = []
    for q in questions:
        for i in q.answers:
            pairs.append(Pair(q.text, q.sentences[i], 1.0))
        hard = [i for i in q.plausible if i not in q.answers]
        rest = [i for i in range(len(q.sentences)) if i not in q.answers and i not in q.plausible]
        rng.shuffle(rest)
        for i in (hard + rest)[:in_paragraph]:
            pairs.append(Pair(q.text, q.sentences[i], 0.0))
        others = [o for o in by_article[q.article] if o.sentences is not q.sentences]
        for other in rng.sample(others, min(elsewhere, len(others))):
            pairs.append(Pair(q.text, rng.choice(other.sentences), 0.0))
    rng.shuffle(pairs)
    return pairs
