"""The answer stage: pick the article sentences that answer the question and quote them
verbatim, in article order, each cited; or abstain when nothing in the article answers."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from assistant.types import Passage, Sentence, Source

# Thresholds measured on evals/cases (answer vs abstain), see evals/README.md.
ABSTAIN_BELOW = 0.40  # best sentence score under this: the article does not cover the question
KEEP_WITHIN = 0.15  # further quotes must score within this of the best one
LEXICAL_WEIGHT = 0.30  # share of the question's content words found in the sentence
NAME_BONUS = 0.10  # sentence reports on a person the question names
RANK_BONUS = 0.10  # scaled by the passage's fused rank (1st: full, 4th: a quarter)
# "What did Close find?" has no words in common with the findings it asks for, and MiniLM ranks
# them below the sentence that merely names him (0.03-0.11 vs 0.35): a question asking for
# findings favours sentences that report one (quoted results, reporting verbs).
FINDING_BONUS = 0.35
_ASKS_FINDINGS = re.compile(
    r"\b(find|found|finding|findings|conclude|conclusion|result|results|discover\w*|show|showed|"
    r"report|reported|say|said|says|write|wrote|writes|claim\w*|argue\w*|learn\w*|suggest\w*)\b",
    re.I,
)
_REPORTS_FINDING = re.compile(
    r"^[“\"]|\b(suggest\w*|conclude\w*|found|improved|showed|results?|achieved|effects?|"
    r"promise|efficacy|relief|analysis)\b",
    re.I,
)


@dataclass(frozen=True)
class ScoredSentence:
    sentence: Sentence
    score: float
    similarity: float


@cache
def _lexicon():
    import Stemmer
    from bm25s.stopwords import STOPWORDS_EN

    return Stemmer.Stemmer("english"), frozenset(STOPWORDS_EN)


def content_terms(text: str) -> set[str]:
    """Stemmed content words of a text (stopwords dropped)."""
    stemmer, stopwords = _lexicon()
    words = [w for w in re.findall(r"\w\w+", text.lower()) if w not in stopwords]
    return set(stemmer.stemWords(words))


def score_sentences(
    question: str,
    query_vector: np.ndarray,
    passages: Sequence[Passage],
    sentence_vectors: np.ndarray,
    sentence_rows: dict[str, list[int]],
    named_passages: set[str] = frozenset(),
    name_terms: set[str] = frozenset(),
) -> list[ScoredSentence]:
    """Score every sentence of the retrieved passages against the question, best first.
    Names in the question count through the name bonus, not as shared words."""
    terms = content_terms(question) - name_terms
    asks_findings = bool(_ASKS_FINDINGS.search(question))
    scored = []
    for rank, passage in enumerate(passages, start=1):
        rows = sentence_rows.get(passage.id, [])
        if not rows:
            continue
        sims = sentence_vectors[rows] @ query_vector
        for sentence, sim in zip(passage.sentences, sims):
            overlap = len(terms & content_terms(sentence.text)) / len(terms) if terms else 0.0
            score = (
                float(sim)
                + LEXICAL_WEIGHT * overlap
                + RANK_BONUS / rank
                + (NAME_BONUS if passage.id in named_passages else 0.0)
                + (
                    FINDING_BONUS
                    if asks_findings and _REPORTS_FINDING.search(sentence.text)
                    else 0.0
                )
            )
            scored.append(ScoredSentence(sentence, score, float(sim)))
    return sorted(scored, key=lambda s: -s.score)


def select_sentences(scored: Sequence[ScoredSentence], max_quotes: int = 4) -> list[Sentence]:
    """The best sentence and those close to it (up to ``max_quotes``), in article order;
    empty when even the best does not reach the abstention threshold."""
    if not scored or scored[0].score < ABSTAIN_BELOW:
        return []
    best = scored[0].score
    chosen = [s.sentence for s in scored[:max_quotes] if s.score >= best - KEEP_WITHIN]
    if len(chosen) < 2 and len(scored) > 1 and scored[1].score >= ABSTAIN_BELOW:
        chosen.append(scored[1].sentence)
    return sorted(chosen, key=lambda s: (s.doc_id, s.start))


def to_sources(sentences: Sequence[Sentence], titles: dict[str, str] | None = None) -> list[Source]:
    """Number the chosen sentences as cited sources."""
    return [
        Source(i, s.text, s.start, s.end, s.section, s.doc_id) for i, s in enumerate(sentences, 1)
    ]


def compose_answer(sources: Sequence[Source], lead: str = "The article says:") -> str:
    """Markdown: a lead line, then each quote on its own blockquote line with its marker."""
    lines = [lead, ""]
    for source in sources:
        lines += [f"> {source.quote} [{source.id}]", ""]
    return "\n".join(lines).rstrip()


ABSTENTION = (
    "The article does not cover that, so I can't answer it from the article. "
    "I can tell you what it says about psychedelic-assisted therapy with MDMA or psilocybin, "
    "the research on chronic pain (Hendricks, Castellanos, Close), or the story of Callie."
)
