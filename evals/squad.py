"""A SQuAD-format file through the real chain: each article indexed as its own corpus.

    assistant eval --squad FILE [--articles N] [--per-article N] [--compare]
    python -m evals.squad FILE --calibrate     (the reader's sentence weights:
                                                models/reader/calibration.json)

Answerable questions: is a cited quote over the answer (evidence)? Unanswerable: did the chain
abstain? Also false abstention, accuracy against always abstaining, citation precision,
refusals and latency. ``--calibrate`` fits the reader's decision on the first half of the
articles (and a fixed half of the project's eval cases) and reports the other halves apart, so
those figures are not measured on what set them.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SquadQuestion:
    text: str
    spans: tuple[tuple[int, int], ...]  # answer spans in the corpus document; empty: unanswerable


def write_corpus(article: dict, folder: Path) -> list[SquadQuestion]:
    """The article as one Markdown document in ``folder``, and its questions with their answer
    spans shifted to the document's offsets."""
    folder.mkdir(parents=True, exist_ok=True)
    title = article["title"].replace("_", " ")
    text = f"---\ntitle: {json.dumps(title)}\n---\n"
    questions = []
    for paragraph in article["paragraphs"]:
        start = len(text)
        text += paragraph["context"].strip() + "\n\n"
        for qa in paragraph["qas"]:
            spans = (
                ()
                if qa.get("is_impossible")
                else tuple(
                    (start + a["answer_start"], start + a["answer_start"] + len(a["text"]))
                    for a in qa["answers"]
                )
            )
            questions.append(SquadQuestion(qa["question"].strip(), spans))
    (folder / "article.md").write_text(text, encoding="utf-8")
    return questions


def _overlaps(source: dict, spans) -> bool:
    return any(source["start"] < b and a < source["end"] for a, b in spans)


def run_article(article: dict, per_article: int, variants: dict, work: Path) -> dict[str, list]:
    """Every (or the first ``per_article``) question of one article, per variant."""
    from assistant.chain import Assistant, Variant
    from assistant.config import Settings

    folder = work / article["title"]
    questions = write_corpus(article, folder / "corpus")
    if per_article:
        answerable = [q for q in questions if q.spans][: per_article // 2]
        unanswerable = [q for q in questions if not q.spans][: per_article - len(answerable)]
        questions = answerable + unanswerable
    settings = Settings(corpus_dir=folder / "corpus", index_dir=folder / "index")
    out = {}
    for name, switches in variants.items():
        assistant = Assistant(settings, Variant(**switches))
        corpus = " ".join(assistant.resources.texts.values()).lower()
        foreign = [t for t in _SHIPPED_SUBJECTS if t.lower() not in corpus]
        rows = []
        for q in questions:
            reply = assistant.reply(q.text).to_dict()
            reply["foreign_subject"] = names_foreign_subject(reply, foreign)
            rows.append((q, reply))
        out[name] = rows
    return out


def _shipped_subjects() -> tuple[str, ...]:
    """What the shipped corpus is about: its profile's terms and subject words, which a reply
    over another corpus must never bring up on its own."""
    from assistant.config import ROOT
    from assistant.profile import corpus_profile

    profile = corpus_profile(ROOT / "corpus")
    return (*profile.terms, "psychedelic", "Callie", "Hendricks", "chronic pain")


_SHIPPED_SUBJECTS = _shipped_subjects()


def names_foreign_subject(reply: dict, foreign: list[str]) -> bool:
    """The reply's own words (not its quotes) name a subject its corpus never mentions."""
    own = "\n".join(line for line in reply["answer"].splitlines() if not line.startswith(">"))
    own = own.lower()
    return any(re.search(rf"(?<!\w){re.escape(t.lower())}(?!\w)", own) for t in foreign)


def figures(rows: list) -> dict:
    answerable = [(q, r) for q, r in rows if q.spans]
    unanswerable = [(q, r) for q, r in rows if not q.spans]

    def rate(flags) -> float | None:
        flags = list(flags)
        return round(sum(flags) / len(flags), 3) if flags else None

    from evals.selective import Row
    from evals.selective import figures as selective_figures

    evidence = [any(_overlaps(s, q.spans) for s in r["sources"]) for q, r in answerable]
    selective = selective_figures(
        [
            Row(r["status"], bool(q.spans), ok, r.get("confidence"))
            for (q, r), ok in zip(answerable + unanswerable, evidence + [False] * len(unanswerable))
            if r["status"] != "refused"
        ]
    )
    selective.pop("questions")
    # an unanswerable question is handled when it is not answered: abstained, or "not
    # directly" (partial) with the closest quotes
    abstained = [r["status"] in ("abstained", "partial") for _, r in unanswerable]
    cited = [_overlaps(s, q.spans) for q, r in answerable for s in r["sources"]]
    correct = evidence + abstained
    totals = [r["timings_ms"].get("total", 0.0) for _, r in rows]
    return {
        "questions": len(rows),
        "answerable_evidence": rate(evidence),
        "abstention": rate(abstained),
        "false_abstention": rate(r["status"] == "abstained" for _, r in answerable),
        "accuracy": rate(correct),
        "always_abstain_accuracy": rate([False] * len(evidence) + [True] * len(abstained)),
        "citation_precision": rate(cited),
        "quotes_per_answer": round(
            statistics.fmean([len(r["sources"]) for _, r in rows if r["sources"]] or [0]), 2
        ),
        "refused": rate(r["status"] == "refused" for _, r in rows),
        "foreign_subject": rate(r.get("foreign_subject", False) for _, r in rows),
        "latency_p50_ms": round(statistics.median(totals), 1) if totals else None,
        **selective,
    }


HELD_OUT = "full, held-out half"


def run(path: Path, articles: int = 0, per_article: int = 0, compare: bool = False) -> dict:
    """Figures per variant over the file's (first ``articles``) articles, and the full chain's
    over the second half of the file's articles alone (``HELD_OUT``): on the shared dev file,
    the half the decision was never fitted on (``evals/fit_decision.py``)."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    half = len(data) // 2
    if articles:
        data = data[:articles]
    variants = {"full": {}}
    if compare:
        variants.update({name: {"answerer": name} for name in ("scorer", "reader")})
    rows: dict[str, list] = {name: [] for name in variants}
    held: list = []
    with tempfile.TemporaryDirectory(prefix="squad-") as work:
        for number, article in enumerate(data):
            for name, found in run_article(article, per_article, variants, Path(work)).items():
                rows[name] += found
                held += found if name == "full" and number >= half else []
    columns = {name: figures(found) for name, found in rows.items()}
    if held:
        columns[HELD_OUT] = figures(held)
    return columns


def _holds(sentences, spans) -> bool:
    return any(s.start < b and a < s.end for s in sentences for a, b in spans)


def _record(resources, number, q: SquadQuestion, model):
    """(group, question, candidates, reader scores, feature rows) for one question; group is
    the article's number, or -1 / -2 for the two halves of the project's eval cases."""
    docs = resources.retriever().invoke(q.text)
    passages = [resources.library.passages[d.id] for d in docs]
    names = tuple(docs[0].metadata["names"]) if docs else ()
    import numpy as np

    from assistant.answerers import prior

    candidates = resources.candidates(q.text, passages, names)
    if not candidates.sentences:
        return None
    # the candidates the reader reads: the scorer's best ``reader_candidates``
    keep = resources.settings.reader_candidates
    best = sorted(np.argsort(-prior(candidates), kind="stable")[:keep].tolist())
    sentences = [candidates.sentences[i] for i in best]
    scores = model.score([(q.text, s.text) for s in sentences])
    return (number, q, sentences, scores, candidates.features[best])


def case_records(model) -> list:
    """The project's own single-turn eval cases (answer, dosing-adjacent, abstain) as records,
    numbered by a fixed split: -1 for the fit half (an even CRC of the id), -2 for the other."""
    import zlib

    from assistant.config import Settings
    from assistant.resources import get_resources
    from evals.cases import load_cases
    from evals.runner import case_documents

    resources = get_resources(Settings())
    records = []
    for case in load_cases(case_documents()):
        if case.category not in ("answer", "dosing_adjacent", "abstain"):
            continue
        half = -1 if zlib.crc32(case.id.encode()) % 2 == 0 else -2
        spans = case.spans if case.expect == "answered" else ()
        found = _record(resources, half, SquadQuestion(case.turns[-1], spans), model)
        if found:
            records.append(found)
    return records


CASE_WEIGHT = 10  # each eval-case sentence counts ten times in the fit: 112 cases beside 1,383
# SQuAD questions, so the article's domain is heard. Measured on the held-out halves with
# weights 1 / 3 / 10 / 30: article cases accuracy 0.66 / 0.74 / 0.74 / 0.75, SQuAD 0.66 / 0.59 /
# 0.61 / 0.62 (2026-12-01).


def calibrate(path: Path, with_cases: bool = True) -> dict:
    """Fit the reader's sentence probability on the first half of the file's articles (and the
    fit half of the project's eval cases) and report the other halves apart: a logistic
    regression over SENTENCE_FEATURES learns which candidate holds the answer. Reported: how
    often the best candidate holds it, on answerable questions. (Whether to answer at all is
    the decision's, ``python -m evals.fit_decision``.)"""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from assistant.config import Settings
    from assistant.reader import Calibration, logit, reader
    from assistant.resources import get_resources

    model, _ = reader()
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    records = []
    with tempfile.TemporaryDirectory(prefix="squad-") as work:
        for number, article in enumerate(data):
            folder = Path(work) / str(number)
            questions = write_corpus(article, folder / "corpus")
            settings = Settings(corpus_dir=folder / "corpus", index_dir=folder / "index")
            resources = get_resources(settings)
            for q in questions:
                found = _record(resources, number, q, model)
                if found:
                    records.append(found)
    records += case_records(model) if with_cases else []
    half = len(data) // 2
    fit = [r for r in records if 0 <= r[0] < half or r[0] == -1]

    def rows(r):
        return np.column_stack([[logit(x) for x in r[3]], r[4]])

    x = np.vstack([rows(r) for r in fit])
    y = np.concatenate([[_holds([s], r[1].spans) for s in r[2]] for r in fit])
    weight = np.concatenate([[CASE_WEIGHT if r[0] == -1 else 1] * len(r[2]) for r in fit])
    regression = LogisticRegression(max_iter=3000).fit(x, y, sample_weight=weight)
    calibration = Calibration(
        tuple(round(float(w), 4) for w in regression.coef_[0]),
        round(float(regression.intercept_[0]), 4),
    )

    def top1(group) -> float | None:
        hits = []
        for _, q, sentences, scores, matrix in group:
            if q.spans:
                p = calibration.probabilities(scores, matrix)
                hits.append(_holds([sentences[int(np.argmax(p))]], q.spans))
        return round(float(np.mean(hits)), 3) if hits else None

    return {
        "calibration": {"weights": calibration.weights, "bias": calibration.bias},
        "fit_articles": half,
        "top1_fit": top1(fit),
        "top1_held_out_squad": top1([r for r in records if r[0] >= half]),
        "top1_held_out_cases": top1([r for r in records if r[0] == -2]),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--articles", type=int, default=0)
    parser.add_argument("--per-article", type=int, default=0)
    parser.add_argument("--compare", action="store_true")
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument(
        "--squad-only", action="store_true", help="--calibrate: leave the eval cases out"
    )
    args = parser.parse_args(argv)
    started = time.time()
    if args.calibrate:
        from assistant.config import reader_dir

        result = calibrate(args.path, not args.squad_only)
        (reader_dir() / "calibration.json").write_text(
            json.dumps(result["calibration"], indent=2) + "\n", encoding="utf-8"
        )
    else:
        result = run(args.path, args.articles, args.per_article, args.compare)
    result["seconds"] = round(time.time() - started, 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
