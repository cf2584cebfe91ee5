"""Fit the answer stage's sentence weights: a logistic regression over the features of
`assistant.answer.FEATURES`, trained on the even-numbered answerable cases and checked on the
odd-numbered ones. Prints the held-out accuracy and the fitted weights; ``--write`` stores them
in ``models/answer/scorer.json``, which the scorer reads (``assistant/answerers.py``).

    python -m evals.fit_scorer [--write]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from assistant.answer import FEATURES
from assistant.answerers import SCORER_WEIGHTS, scorer_weights
from assistant.chain import Variant
from assistant.config import Settings
from assistant.resources import get_resources
from evals.cases import load_cases


def case_rows(resources, retriever, case):
    question = case.standalone or case.turns[-1]
    documents = retriever.invoke(question)
    passages = [resources.library.passages[d.id] for d in documents]
    names = documents[0].metadata["names"] if documents else []
    candidates = resources.candidates(question, passages, names)
    sentences, features = candidates.sentences, candidates.features
    labels = np.asarray(
        [any(s.start < b and a < s.end for a, b in case.spans) for s in sentences], dtype=int
    )
    return features, labels


def top_hits(groups, weights, keep: float, max_quotes: int = 4) -> tuple[float, float]:
    """Share of cases whose best sentence is gold, and whose chosen quotes include gold."""
    first = chosen = 0
    for features, labels in groups:
        if not len(labels):
            continue
        scores = features @ weights
        order = np.argsort(-scores)
        first += labels[order[0]]
        picked = [i for i in order[:max_quotes] if scores[i] >= scores[order[0]] - keep]
        picked = picked if len(picked) >= 2 else list(order[:2])
        chosen += labels[picked].any()
    return first / len(groups), chosen / len(groups)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="store the fitted weights")
    args = parser.parse_args()
    from sklearn.linear_model import LogisticRegression

    resources = get_resources(Settings())
    retriever = resources.retriever(Variant())
    cases = [c for c in load_cases(resources.texts) if c.expect == "answered"]
    groups = [case_rows(resources, retriever, c) for c in cases]
    train, test = groups[0::2], groups[1::2]
    x = np.vstack([f for f, _ in train])
    y = np.concatenate([label for _, label in train])
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000).fit(x, y)
    fitted = model.coef_[0]
    current = scorer_weights()
    for keep in (0.5, 1.0, 1.5):
        print(f"keep within {keep}:")
        for name, w in (("current", current), ("fitted", fitted)):
            print(
                f"  {name:8} train top1/chosen {top_hits(train, w, keep)}"
                f"  held-out {top_hits(test, w, keep)}"
            )
    weights = {f: round(float(w), 2) for f, w in zip(FEATURES, fitted)}
    print("fitted weights:", weights)
    if args.write:
        data = {"weights": weights, "note": "python -m evals.fit_scorer --write"}
        SCORER_WEIGHTS.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
