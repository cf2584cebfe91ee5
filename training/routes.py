"""Fit the router (``models/routes/router.json``): a logistic regression over the sentence
vectors of the example requests and their words and word pairs (TF-IDF), and the threshold a
label must reach to take a message off the retrieval route.

    python -m training.routes   (``make routes``; about a minute on 2 cores)

Data: ``training/data/routes/examples.jsonl`` (written by helpers who never saw the code or the
blind sets), each read with the router's speller as the router reads a message. The regularisation and the threshold are chosen by 5-fold cross-validation: the
threshold is the lowest at which at most ``MAX_AWAY`` of the passage questions are routed away
(the examples' own retrieval look-alikes, held out, 2,000 SQuAD 2.0 train questions about other
documents, and the gated eval suite's answerable questions about this one); among the
regularisations, the one that then routes the most other examples right is kept."""

from __future__ import annotations

import json

import numpy as np

from assistant.config import ROOT
from assistant.routes.reading import spelling_words
from assistant.routes.registry import DEFAULT_ROUTE, learned_labels
from assistant.routes.router import MODEL, examples_hash, read_examples, route_of
from assistant.spelling import Speller
from training.squad import squad_questions

SQUAD_QUESTIONS = 2000
MAX_AWAY = 0.01
SEED = 13
CS = (16, 32, 64)
MIN_DF = 3
THRESHOLDS = np.round(np.arange(0.30, 0.96, 0.01), 2)


def passage_questions(spell: Speller) -> list[str]:
    """Questions a passage answers, read as the router reads them: SQuAD train questions (about
    other documents) and the eval suite's answerable ones (about this corpus, so without its
    titles' words where they point at it)."""
    from assistant.corpus import corpus_files, read_document
    from assistant.routes.reading import Unsubject

    unsubject = Unsubject(read_document(f).title for f in corpus_files(ROOT / "corpus"))
    sample = squad_questions(SQUAD_QUESTIONS, SEED)
    suite = []
    for path in sorted((ROOT / "evals" / "cases").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            case = json.loads(line) if line.strip() else None
            if case and case.get("expect") in ("answered", "partial") and len(case["turns"]) == 1:
                suite.append(unsubject(spell.correct(case["turns"][0])))
    return [spell.correct(q) for q in sample] + suite


def word_features(texts: list[str]):
    """The TF-IDF of words and word pairs seen in at least ``MIN_DF`` examples (what
    ``reading.WordFeatures`` computes at run time from the vocabulary and IDF kept)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(ngram_range=(1, 2), min_df=MIN_DF, sublinear_tf=True).fit(texts)


def features(vectors: np.ndarray, texts: list[str], words) -> np.ndarray:
    return np.hstack([vectors, words.transform(texts).toarray().astype(np.float32)])


def probabilities(c, train, test, vectors, texts, labels, order, outside=None):
    """Fit on the ``train`` rows; the probabilities (in ``order``) of the ``test`` rows, or of
    ``outside`` (vectors, texts); and the model and word features."""
    words = word_features([texts[i] for i in train])
    model = _regression(c).fit(
        features(vectors[train], [texts[i] for i in train], words), labels[train]
    )
    columns = [list(model.classes_).index(n) for n in order]
    if outside is None:
        seen = features(vectors[test], [texts[i] for i in test], words)
    else:
        seen = features(outside[0], outside[1], words)
    return model.predict_proba(seen)[:, columns], model, words, columns


def fit() -> dict:
    from sklearn.model_selection import StratifiedKFold

    from assistant.embeddings import get_embeddings

    rows = read_examples()
    embed = get_embeddings().embed_many
    words_known = spelling_words(rows)
    spell = Speller(words_known)
    texts = [spell.correct(r["text"]) for r in rows]
    vectors = np.asarray(embed(texts), dtype=np.float32)
    labels = np.asarray([r["route"] for r in rows])
    questions = passage_questions(spell)
    outside = (np.asarray(embed(questions), np.float32), questions)
    order = [n for n in learned_labels() if n in set(labels)]
    truth = np.asarray([order.index(label) for label in labels])
    default = order.index(DEFAULT_ROUTE)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=SEED).split(vectors, labels))
    everything = np.arange(len(rows))
    best = None
    for c in CS:
        held = np.zeros((len(rows), len(order)))
        for train, test in folds:
            held[test] = probabilities(c, train, test, vectors, texts, labels, order)[0]
        beyond, model, words, columns = probabilities(
            c, everything, None, vectors, texts, labels, order, outside
        )
        for threshold in THRESHOLDS:
            got = route_of(held, order, threshold)
            away_examples = got[truth == default] != default
            away_outside = route_of(beyond, order, threshold) != default
            away = np.concatenate([away_examples, away_outside]).mean()
            if away > MAX_AWAY:
                continue
            right = float((got[truth != default] == truth[truth != default]).mean())
            top = [order[i].split(":")[0] for i in got]
            same_route = [top[i] == order[t].split(":")[0] for i, t in enumerate(truth)]
            if best is None or right > best["figures"]["label_right"]:
                vocabulary = sorted(words.vocabulary_, key=words.vocabulary_.get)
                best = {
                    "labels": order,
                    "coef": np.round(model.coef_[columns], 5).tolist(),
                    "intercept": np.round(model.intercept_[columns], 5).tolist(),
                    "threshold": float(threshold),
                    "vocabulary": vocabulary,
                    "spelling": words_known,
                    "idf": np.round(words.idf_, 5).tolist(),
                    "figures": {
                        "C": c,
                        "label_right": round(right, 3),
                        "route_right": round(
                            float(np.mean([s for s, t in zip(same_route, truth) if t != default])),
                            3,
                        ),
                        "examples_away": round(float(away_examples.mean()), 4),
                        "passage_questions_away": round(float(away_outside.mean()), 4),
                    },
                }
            break  # the lowest threshold within the budget routes the most
    if best is None:
        raise SystemExit(f"no threshold keeps passage questions routed away under {MAX_AWAY:.0%}")
    best["figures"].update(
        {
            "examples": len(rows),
            "examples_hash": examples_hash(rows),
            "passage_questions": len(questions),
            "words": len(best["vocabulary"]),
            "max_away": MAX_AWAY,
            "held_out": "5-fold cross-validation over examples.jsonl",
        }
    )
    return best


def _regression(c):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=5000)


def main() -> None:
    fitted = fit()
    MODEL.parent.mkdir(parents=True, exist_ok=True)
    MODEL.write_text(json.dumps(fitted) + "\n", encoding="utf-8")
    print(json.dumps(fitted["figures"], indent=2), f"threshold {fitted['threshold']}")


if __name__ == "__main__":
    main()
