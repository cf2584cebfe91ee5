"""The retrieval components one by one (assistant/retrieval.py) and their fusion, over the fakes
of tests/fakes.py: a synthetic article, hashed bag-of-words vectors, no Chroma, no model files,
no index."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.retrieval import (
    BM25Retriever,
    ChromaDenseRetriever,
    HybridRetriever,
    MatrixDenseRetriever,
    NameRetriever,
    Ranker,
    WeightedRRF,
    reciprocal_rank_fusion,
)
from assistant.types import Passage
from tests.fakes import ARTICLE, DIMENSION, FakeEncoder, fake_library

METADATA_KEYS = {"passage_id", "score", "dense_score", "ranks", "names", "section"}
LEAD, QUILLON, LOGS, RENFREW, TOWER, TODAY = (f"article:p{i:03d}" for i in range(6))


@pytest.fixture(scope="module")
def library():
    return fake_library()


@pytest.fixture(scope="module")
def encoder(library):
    return library.encoder


@pytest.fixture(scope="module")
def bm25(library):
    return BM25Retriever(library.ordered)


@pytest.fixture(scope="module")
def dense(library):
    return MatrixDenseRetriever.from_passages(library.ordered, library.encoder)


@pytest.fixture(scope="module")
def names(library):
    return NameRetriever(library.names)


def _ids(ranking) -> list[str]:
    return [pid for pid, _ in ranking]


# --- the fakes ------------------------------------------------------------------------------


def test_fake_library_is_the_article_cut_by_the_corpus_parser(library):
    assert [p.id for p in library.ordered] == [LEAD, QUILLON, LOGS, RENFREW, TOWER, TODAY]
    assert library.passages[QUILLON].section == "Keepers"
    assert all(p.sentences for p in library.passages.values())
    document = library.documents["article"]
    for sentence in library.sentences:
        assert document.text[sentence.start : sentence.end] == sentence.text
    assert library.sentence_vectors.shape == (len(library.sentences), DIMENSION)
    rows = [r for p in library.ordered for r in library.sentence_rows[p.id]]
    assert rows == list(range(len(library.sentences)))


def test_fake_encoder_is_deterministic_unit_and_shaped_like_the_real_one():
    one, two = FakeEncoder(), FakeEncoder()
    vector = one.embed_query("Whale oil lit the lamps")
    assert isinstance(vector, tuple) and len(vector) == DIMENSION
    assert vector == two.embed_query("Whale oil lit the lamps")
    assert np.linalg.norm(vector) == pytest.approx(1.0)
    assert np.dot(vector, one.embed_query("the lamps lit WHALE oil")) == pytest.approx(1.0)
    assert not any(one.embed_query("???"))
    documents = one.embed_documents(["a lamp", "a tower"])
    assert [len(v) for v in documents] == [DIMENSION, DIMENSION]
    many = one.embed_many(["a lamp", "a tower"])
    assert many.dtype == np.float32 and many.shape == (2, DIMENSION)
    assert np.allclose(many, documents)
    assert one.embed_many([]).shape == (0, DIMENSION)
    assert len(FakeEncoder(16).embed_query("a lamp")) == 16


def test_every_component_is_a_ranker(bm25, dense, names):
    for component in (bm25, dense, names, ChromaDenseRetriever(None, None)):
        assert isinstance(component, Ranker)


# --- BM25Retriever --------------------------------------------------------------------------


def test_bm25_ranks_the_passage_with_the_words_first(bm25):
    ranked = bm25.rank("When did kerosene arrive?", 5)
    assert ranked[0][0] == LOGS


def test_bm25_scores_positive_descending_capped_at_k(bm25):
    ranked = bm25.rank("tower towers lighthouses keepers", 3)
    assert 0 < len(ranked) <= 3
    scores = [s for _, s in ranked]
    assert all(s > 0 for s in scores) and scores == sorted(scores, reverse=True)
    assert len(bm25.rank("tower", 1000)) <= 6


@pytest.mark.parametrize("query", ["", "the and of", "xyzzy plugh", "???"])
def test_bm25_without_known_words_ranks_nothing(bm25, query):
    assert bm25.rank(query, 5) == []


def test_bm25_stems(bm25):
    assert bm25.rank("surveyed", 1)[0][0] == RENFREW


# --- the dense retrievers -------------------------------------------------------------------


class _AxisEncoder:
    """Queries are fixed 2-d vectors."""

    def __init__(self, vectors: dict[str, tuple[float, ...]]) -> None:
        self.vectors = vectors

    def embed_query(self, text: str) -> tuple[float, ...]:
        return self.vectors[text]


def test_matrix_dense_ranks_by_cosine_over_its_matrix():
    encoder = _AxisEncoder({"x": (2.0, 0.0), "y": (0.0, 1.0), "none": (0.0, 0.0)})
    # rows need not be unit vectors: similarity is the cosine
    dense = MatrixDenseRetriever(["a", "b", "c"], [[3.0, 0.0], [0.0, 1.0], [1.0, 1.0]], encoder)
    ranked = dense.rank("x", 3)
    assert _ids(ranked) == ["a", "c", "b"]
    assert [s for _, s in ranked] == pytest.approx([1.0, 2**-0.5, 0.0])
    assert _ids(dense.rank("y", 2)) == ["b", "c"]
    assert dense.rank("none", 3) == []
    assert dense.rank("x", 0) == []
    assert MatrixDenseRetriever([], np.zeros((0, 2)), encoder).rank("x", 3) == []


def test_matrix_dense_ties_keep_the_matrix_order():
    encoder = _AxisEncoder({"x": (1.0, 0.0)})
    dense = MatrixDenseRetriever(["b", "a", "c"], [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], encoder)
    assert _ids(dense.rank("x", 3)) == ["b", "a", "c"]


def test_matrix_dense_over_the_fake_article(library, dense):
    passage = library.passages[TOWER]
    ranked = dense.rank(passage.text, 3)
    assert ranked[0] == (TOWER, pytest.approx(1.0))
    assert len(ranked) == 3
    scores = [s for _, s in dense.rank("the tallest tower", 6)]
    assert scores == sorted(scores, reverse=True)
    assert dense.rank("tallest tower", 1)[0][0] == TOWER


def test_matrix_dense_from_passages_embeds_their_texts(library, encoder):
    passages = library.ordered[:2]
    built = MatrixDenseRetriever.from_passages(passages, encoder)
    assert built.ids == [p.id for p in passages]
    assert np.allclose(built.vectors, encoder.embed_many([p.text for p in passages]))


class _Hit:
    def __init__(self, pid: str) -> None:
        self.id = pid


class _FakeStore:
    """What ChromaDenseRetriever asks of the vector store: (document, cosine distance) pairs."""

    def __init__(self, hits: list[tuple[str, float]]) -> None:
        self.hits = hits
        self.asked: list[tuple[list[float], int]] = []

    def similarity_search_by_vector_with_relevance_scores(self, vector, k=4):
        self.asked.append((vector, k))
        return [(_Hit(pid), distance) for pid, distance in self.hits[:k]]


def test_chroma_dense_turns_distances_into_similarities(encoder):
    store = _FakeStore([("a", 0.1), ("b", 0.25), ("c", 0.9)])
    dense = ChromaDenseRetriever(store, encoder)
    ranked = dense.rank("a question", 2)
    assert _ids(ranked) == ["a", "b"]
    assert [s for _, s in ranked] == pytest.approx([0.9, 0.75])
    vector, k = store.asked[0]
    assert k == 2 and vector == list(encoder.embed_query("a question"))


# --- NameRetriever --------------------------------------------------------------------------


def test_names_finds_the_cited_names_in_order(names):
    assert [c.name for c in names.find("Did Renfrew or Quillon et al. count more?")] == [
        "Tobias Renfrew",
        "Mara Quillon",
    ]
    assert names.find("What did the keepers burn?") == []


def test_names_ranks_the_introduction_first_then_reading_order(names):
    ranked = names.rank("What did Quillon find?", 10)
    assert _ids(ranked) == [QUILLON, LOGS]
    assert [s for _, s in ranked] == pytest.approx([1.0, 0.5])


def test_names_orders_the_rest_by_the_dense_ranking_it_is_given(names):
    dense = [(LOGS, 0.9), (RENFREW, 0.8), (TOWER, 0.7)]
    question = "What did Renfrew and Quillon report?"
    # both introductions first (in the order named), the rest as the dense ranking has them
    assert _ids(names.rank(question, 10, dense)) == [RENFREW, QUILLON, LOGS, TOWER]
    # without a dense ranking: reading order of each name's passages
    assert _ids(names.rank(question, 10)) == [RENFREW, QUILLON, TOWER, LOGS]
    assert _ids(names.rank(question, 2, dense)) == [RENFREW, QUILLON]


def test_names_without_a_name_ranks_nothing(names):
    assert names.rank("How tall is the tallest tower?", 10) == []


# --- WeightedRRF ----------------------------------------------------------------------------


def _passages(*ids: str) -> dict[str, Passage]:
    return {
        pid: Passage(pid, "doc", f"text of {pid}", 0, 1, f"section {pid}", i)
        for i, pid in enumerate(ids)
    }


def test_fusion_is_weighted_reciprocal_rank():
    rankings = {"dense": [("a", 0.9), ("b", 0.5)], "bm25": [("b", 7.0)], "names": [("c", 1.0)]}
    fusion = WeightedRRF(k=60, weights={"names": 2.0})
    fused = fusion.fuse(rankings)
    expected = reciprocal_rank_fusion([["a", "b"], ["b"], ["c"]], 60, [1.0, 1.0, 2.0])
    assert fused == expected
    assert dict(fused) == pytest.approx({"a": 1 / 61, "b": 1 / 62 + 1 / 61, "c": 2 / 61})
    assert _ids(fused) == ["c", "b", "a"]


def test_fusion_ties_keep_the_first_rankings_order():
    fused = WeightedRRF().fuse({"dense": [("a", 0.1)], "bm25": [("b", 9.0)]})
    assert _ids(fused) == ["a", "b"]
    assert WeightedRRF().fuse({}) == []


def test_fusion_documents_carry_the_metadata():
    passages = _passages("a", "b", "c")
    rankings = {"dense": [("a", 0.9), ("b", 0.5)], "bm25": [("b", 7.0), ("c", 1.0)]}
    documents = WeightedRRF().documents(rankings, passages, 2, names=["Mara Quillon"])
    assert [d.id for d in documents] == ["b", "a"]
    b, a = documents
    assert set(b.metadata) == METADATA_KEYS
    assert b.page_content == "text of b"
    assert b.metadata == {
        "passage_id": "b",
        "score": pytest.approx(1 / 62 + 1 / 61),
        "dense_score": 0.5,
        "ranks": {"dense": 2, "bm25": 1},
        "names": ["Mara Quillon"],
        "section": "section b",
    }
    assert a.metadata["ranks"] == {"dense": 1}
    # a passage dense search did not rank has no dense score
    only_bm25 = WeightedRRF().documents({"bm25": [("c", 1.0)]}, passages, 4)
    assert only_bm25[0].metadata["dense_score"] == 0.0
    assert only_bm25[0].metadata["names"] == []


# --- HybridRetriever over the components ----------------------------------------------------


def test_hybrid_is_its_components_fused(library, bm25, dense, names):
    retriever = library.retriever(k=3, candidates=4)
    question = "What did Quillon find about the gales?"
    rankings, cited = retriever.rankings(question)
    assert list(rankings) == ["dense", "bm25", "names"]
    assert rankings["dense"] == dense.rank(question, 4)
    assert rankings["bm25"] == bm25.rank(question, 4)
    assert rankings["names"] == names.rank(question, 10, rankings["dense"])
    assert [c.name for c in cited] == ["Mara Quillon"]
    expected = WeightedRRF(60, {"names": 2.0}).documents(
        rankings, library.passages, 3, names=["Mara Quillon"]
    )
    documents = retriever.invoke(question)
    assert [(d.id, d.metadata) for d in documents] == [(d.id, d.metadata) for d in expected]
    assert [d.id for d in documents][:2] == [QUILLON, LOGS]


def test_hybrid_documents_have_the_metadata(library):
    documents = library.retriever().invoke("Who counted the lighthouses, Renfrew?")
    assert 0 < len(documents) <= 4
    assert documents[0].id == RENFREW
    for doc in documents:
        assert set(doc.metadata) == METADATA_KEYS
        assert doc.metadata["passage_id"] == doc.id
        assert doc.page_content == library.passages[doc.id].text
        assert doc.metadata["names"] == ["Tobias Renfrew"]
    scores = [d.metadata["score"] for d in documents]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize(
    ("switches", "allowed"),
    [
        ({"use_bm25": False, "use_names": False}, {"dense"}),
        ({"use_dense": False, "use_names": False}, {"bm25"}),
        ({"use_dense": False}, {"bm25", "names"}),
        ({"use_bm25": False}, {"dense", "names"}),
        ({"use_names": False}, {"dense", "bm25"}),
    ],
)
def test_hybrid_switches_as_the_ablations_copy_them(library, switches, allowed):
    full = library.retriever()
    variant = full.model_copy(update=switches)
    documents = variant.invoke("What did Quillon log in the storm?")
    assert documents
    assert set().union(*(d.metadata["ranks"] for d in documents)) <= allowed
    if "names" not in allowed:
        assert all(d.metadata["names"] == [] for d in documents)
    if "dense" not in allowed:
        assert all(d.metadata["dense_score"] == 0.0 for d in documents)
    assert full.use_bm25 and full.use_dense and full.use_names


def test_a_missing_component_is_a_switched_off_one(library):
    question = "What did Quillon log in the storm?"
    left_out = library.retriever(bm25=None, names=None).invoke(question)
    switched = library.retriever(use_bm25=False, use_names=False).invoke(question)
    assert [(d.id, d.metadata) for d in left_out] == [(d.id, d.metadata) for d in switched]
    assert HybridRetriever(passages=library.passages).invoke(question) == []


def test_hybrid_with_everything_off_or_nothing_known(library):
    off = library.retriever(use_bm25=False, use_dense=False, use_names=False)
    assert off.invoke("What did Quillon find?") == []
    assert library.retriever(use_dense=False, use_names=False).invoke("xyzzy plugh") == []
    assert library.retriever().model_copy(update={"k": 2}).invoke("tower") != []


def test_hybrid_over_two_documents():
    other = ARTICLE.replace("Lighthouses of the North Coast", "Harbours").replace(
        "kerosene", "electric light"
    )
    library = fake_library([ARTICLE, other])
    documents = library.retriever(k=6).invoke("electric light")
    assert documents[0].id == "doc1:p002"
    assert {d.id.split(":")[0] for d in documents} == {"doc0", "doc1"}


# --- candidates for the answerers, from the retrieved passages -------------------------------


def test_candidates_are_the_retrieved_passages_sentences(library, encoder):
    from assistant.answer import FEATURES, SentenceScorer
    from assistant.answerers import make_candidates

    question = "What did Quillon log?"
    documents = library.retriever().invoke(question)
    passages = [library.passages[d.id] for d in documents]
    cited = [library.names.names[n] for n in documents[0].metadata["names"]]
    candidates = make_candidates(
        question,
        encoder.embed_query(question),
        passages,
        cited,
        SentenceScorer(library.sentences),
        library.sentence_vectors,
        library.sentence_rows,
    )
    assert candidates.sentences == tuple(s for p in passages for s in p.sentences)
    assert candidates.features.shape == (len(candidates.sentences), len(FEATURES))
    assert candidates.names_asked and "quillon" in candidates.name_terms
    named = candidates.features[:, FEATURES.index("named")]
    in_quillon = [s.passage_id in cited[0].passage_ids for s in candidates.sentences]
    assert named.tolist() == [float(x) for x in in_quillon]
    rank = candidates.features[:, FEATURES.index("rank")]
    assert rank[0] == 1.0 and rank.tolist() == sorted(rank.tolist(), reverse=True)
