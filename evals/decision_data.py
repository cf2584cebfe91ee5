"""The questions the decision is fitted on (``evals/fit_decision.py``): each domain's questions
through the real chain up to the answer stage, as records of the decision's features, whether
the quotes hold the answer and whether the question is on the corpus's subject."""

from __future__ import annotations

import json
import random
import tempfile
import zlib
from functools import cache
from pathlib import Path

from assistant.config import ROOT
from assistant.decide import DECISION_FEATURES, Calibrator, Logistic, choose_quotes, features

SHARED = ROOT.parent / "shared"
# How each answerer picks its quotes (decide.choose_quotes): the scorer keeps the quotes within
# 3 log-odds of its best (0.94 of the eval cases' answers cite the gold evidence, 2.9 quotes
# each; fit_scorer), and at least two; the reader's scores are sharper.
QUOTES = {
    "scorer": {"keep_within": 3.0, "max_quotes": 4, "min_quotes": 2},
    "reader": {"keep_within": 1.5, "max_quotes": 3, "min_quotes": 1},
}
UNANSQ_CORPUS = 25  # paragraphs per corpus
UNANSQ_CORPORA = 8
SHIFTS_ARTICLES = 8
SHIFTS_PER_ARTICLE = 60
SQUAD_DEV_PER_ARTICLE = 150
KINDS = ("answer", "dosing_adjacent", "followup", "abstain")
FOREIGN_PER_CORPUS = 20  # off-topic questions asked of each corpus (from other corpora)
FOREIGN_ARTICLE = 80


def _holds(sentences, spans, document: str = "") -> bool:
    return any(
        s.start < b and a < s.end and (not document or s.doc_id == document)
        for s in sentences
        for a, b in spans
    )


def _squad_questions(article: dict, folder: Path) -> list[tuple[list[str], tuple, str]]:
    from evals.squad import write_corpus

    found = write_corpus(article, folder / "corpus")
    return [([q.text], q.spans, "article", True) for q in found]


def _record_corpus(domain, group, settings, questions, answerers, foreign=()) -> list[dict]:
    """Each question through the chain up to the answer stage; per answerer, the decision's
    features, whether its quotes hold the answer and whether the question is on the corpus's
    topic. ``foreign``: questions of other corpora, asked here (off-topic by construction)."""
    from assistant.chain import Assistant, stages
    from assistant.history import to_turn
    from assistant.resources import get_resources
    from assistant.stages import TurnState

    resources = get_resources(settings)
    steps = stages(resources)[:3]  # guard_in, condense, retrieve
    assistant = Assistant(settings) if any(len(q[0]) > 1 for q in questions) else None
    rows = []
    asked = [(*q, False) for q in questions] + [([t], (), "", False, True) for t in foreign]
    for turns, spans, document, on_topic, is_foreign in asked:
        history = []
        for turn in turns[:-1]:
            history.append(to_turn(assistant.reply(turn, history)))
        state = TurnState(message=turns[-1], history=tuple(history))
        for step in steps:
            state = step(state)
            if state.reply is not None:
                break
        if state.reply is not None or not state.passages:
            continue  # refused, small talk: never reaches the decision
        candidates = resources.candidates(state.standalone, state.passages, state.names)
        if not candidates.sentences:
            continue
        for name in answerers:
            ranking = resources.answerer(name).rank(candidates)
            calibrator = _quote_rules(name)
            chosen = choose_quotes(ranking, calibrator)
            x = features(candidates, ranking, chosen, resources.scorer)
            holds = _holds([candidates.sentences[i] for i in chosen], spans, document)
            rows.append(
                {
                    "domain": domain,
                    "group": group,
                    "answerer": name,
                    "question": turns[-1],
                    "answerable": bool(spans),
                    "x": [round(float(v), 5) for v in x],
                    "y": int(holds),
                    "on_topic": int(on_topic),
                    "foreign": is_foreign,
                }
            )
    return rows


def _quote_rules(name: str) -> Calibrator:
    """How ``name`` picks its quotes; the decision's models are not needed for that."""
    n = len(DECISION_FEATURES)
    unused = Logistic((0.0,) * n, 0.0, (0.0,) * n, (1.0,) * n)
    return Calibrator(unused, unused, 0.5, **QUOTES[name])


def _article(answerers) -> list[dict]:
    from assistant.config import Settings
    from evals.cases import load_cases
    from evals.runner import case_documents

    rows = []
    for case in load_cases(case_documents()):
        if case.category in KINDS:
            group = "article-held" if zlib.crc32(case.id.encode()) % 2 else "article-fit"
            spans = case.spans if case.expect == "answered" else ()
            questions = [(list(case.turns), spans, case.document, on_topic(case))]
            rows += _record_corpus("article", group, Settings(), questions, answerers)
    foreign = _foreign(FOREIGN_ARTICLE, 0, with_article=False)
    rows += _record_corpus("article", "article-fit", Settings(), [], answerers, foreign)
    return rows


def _household(answerers) -> list[dict]:
    from evals.cases import load_case_file
    from evals.runner import case_documents, corpus_settings

    household = ROOT / "evals" / "corpora" / "household"
    found = load_case_file(household / "cases.jsonl", case_documents(household))
    questions = [
        (list(c.turns), c.spans if c.expect == "answered" else (), c.document, on_topic(c))
        for c in found
        if c.category in KINDS
    ]
    settings = corpus_settings(household)
    foreign = _foreign(FOREIGN_PER_CORPUS * 2, 1)
    return _record_corpus("household", "household", settings, questions, answerers, foreign)


def on_topic(case) -> bool:
    """A case is about its corpus's subject unless tagged off-topic."""
    return "off-topic" not in case.tags


def _unansq(answerers) -> list[dict]:
    data = json.loads((SHARED / "qa-extra" / "unansq-pairs-v2.0.json").read_text())["data"]
    paragraphs = data[0]["paragraphs"]
    corpora = [
        {
            "title": f"unansq-{i}",
            "paragraphs": paragraphs[i * UNANSQ_CORPUS : (i + 1) * UNANSQ_CORPUS],
        }
        for i in range(UNANSQ_CORPORA)
    ]
    return _squad_corpora("unansq", corpora, answerers)


def _shifts(answerers) -> list[dict]:
    data = json.loads((SHARED / "qa-extra" / "squadshifts-new-wiki-v1.0.json").read_text())["data"]
    return _squad_corpora("shifts", data[:SHIFTS_ARTICLES], answerers, SHIFTS_PER_ARTICLE)


def _squad_dev(answerers) -> list[dict]:
    """The first half of the SQuAD 2.0 dev articles (the other half is never fitted on)."""
    data = json.loads((SHARED / "squad2" / "dev-v2.0.json").read_text())["data"]
    return _squad_corpora("squad-dev", data[: len(data) // 2], answerers, SQUAD_DEV_PER_ARTICLE)


def _squad_corpora(domain, articles, answerers, per_article: int = 0) -> list[dict]:
    from assistant.config import Settings

    rows = []
    with tempfile.TemporaryDirectory(prefix="decision-") as work:
        for number, article in enumerate(articles):
            folder = Path(work) / f"{domain}-{number}"
            questions = _squad_questions(article, folder)
            if per_article:
                questions = questions[:per_article]
            settings = Settings(corpus_dir=folder / "corpus", index_dir=folder / "index")
            foreign = _foreign(FOREIGN_PER_CORPUS, number + 2)
            group = f"{domain}-{number}"
            rows += _record_corpus(domain, group, settings, questions, answerers, foreign)
    return rows


@cache
def _foreign_pool() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Questions to ask of corpora they are not about: the first ten of each SQuADShifts
    article no corpus here is made of, and the project's own answer cases."""
    from evals.cases import load_cases
    from evals.runner import case_documents

    shifts = json.loads((SHARED / "qa-extra" / "squadshifts-new-wiki-v1.0.json").read_text())
    wiki = tuple(
        qa["question"]
        for article in shifts["data"][SHIFTS_ARTICLES : SHIFTS_ARTICLES * 2]
        for qa in [q for p in article["paragraphs"] for q in p["qas"]][:10]
    )
    cases = tuple(c.turns[-1] for c in load_cases(case_documents()) if c.category == "answer")
    return wiki, cases


def _foreign(n: int, seed: int, with_article: bool = True) -> list[str]:
    """``n`` off-topic questions for one corpus, a different draw per ``seed``."""
    wiki, cases = _foreign_pool()
    pool = list(wiki) + (list(cases) if with_article else [])
    return random.Random(seed).sample(pool, min(n, len(pool)))


DOMAINS = {
    "article": _article,
    "household": _household,
    "unansq": _unansq,
    "shifts": _shifts,
    "squad-dev": _squad_dev,
}
