"""assistant/routes: the route registry, the learned router's decision (on a fake encoder and a
hand-made regression, no model files), and the chain's route table covering the registry."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assistant.routes.registry import DEFAULT_ROUTE, DOCUMENT_KINDS, ROUTES, learned_labels
from assistant.routes.router import EXAMPLES, MODEL, Router, read_examples, route_of

LABELS = ["small_talk", "document:author", "retrieval"]
WORDS = {"hello": 0, "author": 1, "wrote": 1}


def fake_embed(texts):
    """A word-spotting encoder: one axis per label, the third for any other word."""
    vectors = np.zeros((len(texts), 3), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in text.lower().split():
            vectors[row, WORDS.get(word.strip("?!."), 2)] += 1.0
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


MODEL_DICT = {
    "labels": LABELS,
    "coef": (np.eye(3) * 8).tolist(),
    "intercept": [0.0, 0.0, 0.0],
    "threshold": 0.6,
}


class FakeNames:
    def find(self, text):
        return ["Close"] if "Close" in text else []


def test_a_clear_label_takes_the_message_off_the_retrieval_route():
    router = Router(fake_embed, model=MODEL_DICT)
    decision = router.route("author?")
    assert (decision.route, decision.kind) == ("document", "author")
    assert decision.probability > 0.6
    assert router.route("hello").route == "small_talk"


def test_an_unsure_message_stays_on_the_retrieval_route():
    router = Router(fake_embed, model=MODEL_DICT)
    assert router.route("what did the author of the study find?").route == DEFAULT_ROUTE
    assert router.route("what is hyperthermia?").route == DEFAULT_ROUTE


def test_a_message_naming_someone_the_documents_cite_asks_about_a_passage():
    router = Router(fake_embed, FakeNames(), model=MODEL_DICT)
    assert router.route("who wrote Close").route == DEFAULT_ROUTE


def test_route_of_keeps_the_default_below_the_threshold():
    probabilities = np.array([[0.5, 0.3, 0.2], [0.1, 0.7, 0.2], [0.2, 0.2, 0.6]])
    assert route_of(probabilities, LABELS, 0.6).tolist() == [2, 1, 2]


def test_every_route_has_a_description_and_one_default():
    assert all(route.get("about") for route in ROUTES.values())
    assert [n for n, r in ROUTES.items() if r.get("default")] == [DEFAULT_ROUTE]
    assert set(DOCUMENT_KINDS) == {
        "author",
        "title",
        "summary",
        "argument",
        "resources",
        "disclaimer",
        "structure",
        "date",
    }


def test_the_examples_cover_every_learned_label():
    rows = read_examples()
    counts = {label: sum(r["route"] == label for r in rows) for label in learned_labels()}
    assert min(counts.values()) >= 30, counts
    assert len({r["text"].lower() for r in rows}) == len(rows)


def test_the_fitted_router_matches_its_examples_and_labels():
    fitted = json.loads(MODEL.read_text(encoding="utf-8"))
    from assistant.routes.router import examples_hash

    assert fitted["figures"]["examples_hash"] == examples_hash(read_examples(EXAMPLES)), (
        "examples.jsonl changed: run `make routes`"
    )
    assert set(fitted["labels"]) == set(learned_labels())
    assert len(fitted["coef"]) == len(fitted["labels"])


def test_every_document_kind_has_an_answer():
    from assistant.document import KINDS

    assert set(KINDS) == set(DOCUMENT_KINDS)


def test_the_chain_answers_every_route_and_refuses_a_table_that_does_not():
    from assistant.chain import build_chain

    answered = set(ROUTES) - {"refused", "error"}
    assert answered == {"small_talk", "task", "document", "retrieval"}
    with pytest.raises(ValueError, match="must answer exactly"):
        build_chain([object()], {"retrieval": [object()]}, [])


def test_the_status_registry_is_the_reply_type():
    import typing

    from assistant.registry import STATUSES
    from assistant.types import Status

    assert set(typing.get_args(Status)) == set(STATUSES)


def test_every_stage_of_the_chain_is_registered():
    from assistant import stages
    from assistant.registry import STAGES
    from assistant.routes import stages as route_stages

    classes = [
        c
        for module in (stages, route_stages)
        for c in vars(module).values()
        if isinstance(c, type) and hasattr(c, "after_reply") and hasattr(c, "name")
    ]
    assert {c.name for c in classes} == set(STAGES)


def test_word_features_are_scikit_learns_tfidf():
    from sklearn.feature_extraction.text import TfidfVectorizer

    from assistant.routes.reading import WordFeatures

    texts = ["Who wrote it?", "who wrote the study on sleep", "What is it about? about it"]
    fitted = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(texts)
    vocabulary = sorted(fitted.vocabulary_, key=fitted.vocabulary_.get)
    ours = WordFeatures(vocabulary, fitted.idf_)
    asked = ["who wrote it about it", "an unseen message"]
    np.testing.assert_allclose(ours(asked), fitted.transform(asked).toarray(), atol=1e-6)


def test_a_message_quoting_a_title_asks_about_a_passage():
    router = Router(fake_embed, model=MODEL_DICT)
    assert router.route('Who is the author of "Sleep and the Author"?').route == DEFAULT_ROUTE
    from assistant.routes.router import _QUOTED

    assert not _QUOTED.search("what's the article's main point? it's the author’s ‘view’")
