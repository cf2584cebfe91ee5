"""assistant/retrieval.py: reciprocal rank fusion, the name index, BM25 and the hybrid retriever.

The fusion tests are pure; the rest run on the real corpus, the real model and the session's real
Chroma index (tests/conftest.py).
"""

from __future__ import annotations

import pytest

from assistant.chain import Variant
from assistant.names import NameIndex
from assistant.retrieval import BM25Index, reciprocal_rank_fusion

METADATA_KEYS = {"passage_id", "score", "dense_score", "ranks", "names", "section"}
CLOSE_QUESTION = "What did Close et al. find?"


# --- reciprocal_rank_fusion -----------------------------------------------------------------


def test_rrf_one_list_keeps_its_order_with_reciprocal_scores():
    fused = reciprocal_rank_fusion([["a", "b", "c"]], k=60)
    assert [pid for pid, _ in fused] == ["a", "b", "c"]
    assert [score for _, score in fused] == pytest.approx([1 / 61, 1 / 62, 1 / 63])


def test_rrf_agreement_beats_a_single_first_place():
    fused = dict(reciprocal_rank_fusion([["a", "b"], ["c", "b"]], k=60))
    assert fused["b"] == pytest.approx(2 / 62)
    assert fused["b"] > fused["a"] == fused["c"]
    assert next(iter(fused)) == "b"


def test_rrf_union_of_all_lists():
    fused = reciprocal_rank_fusion([["a"], ["b", "c"], []], k=1)
    assert {pid for pid, _ in fused} == {"a", "b", "c"}
    assert dict(fused) == pytest.approx({"a": 0.5, "b": 0.5, "c": 1 / 3})


def test_rrf_weights_scale_each_list():
    lists = [["a", "b"], ["b", "a"]]
    assert [p for p, _ in reciprocal_rank_fusion(lists, k=60, weights=[2.0, 1.0])] == ["a", "b"]
    assert [p for p, _ in reciprocal_rank_fusion(lists, k=60, weights=[1.0, 2.0])] == ["b", "a"]
    fused = dict(reciprocal_rank_fusion(lists, k=60, weights=[2.0, 1.0]))
    assert fused["a"] == pytest.approx(2 / 61 + 1 / 62)
    assert fused["b"] == pytest.approx(2 / 62 + 1 / 61)


def test_rrf_weighted_name_list_lifts_its_second_item_over_an_unweighted_first():
    # the retriever's name weight (2.0): rank 2 in the names list beats rank 1 of one retriever
    fused = reciprocal_rank_fusion([["d1"], ["n1", "n2"]], k=60, weights=[1.0, 2.0])
    assert [p for p, _ in fused] == ["n1", "n2", "d1"]


def test_rrf_ties_keep_first_seen_order():
    fused = reciprocal_rank_fusion([["a", "b"], ["b", "a"]], k=60)
    assert fused[0][1] == pytest.approx(fused[1][1])
    assert [p for p, _ in fused] == ["a", "b"]
    fused = reciprocal_rank_fusion([["x"], ["y"], ["z"]], k=60)
    assert [p for p, _ in fused] == ["x", "y", "z"]


def test_rrf_smaller_k_favours_the_top_ranks_more():
    lists = [["a", "b", "c"], ["c", "b", "a"], ["b"]]
    assert reciprocal_rank_fusion(lists, k=1)[0][0] == "b"
    sharp = dict(reciprocal_rank_fusion([["a", "b"]], k=1))
    flat = dict(reciprocal_rank_fusion([["a", "b"]], k=1000))
    assert sharp["a"] / sharp["b"] > flat["a"] / flat["b"]


def test_rrf_of_nothing_is_empty():
    assert reciprocal_rank_fusion([]) == []
    assert reciprocal_rank_fusion([[], []]) == []


def test_rrf_scores_are_sorted_descending():
    lists = [["a", "b", "c", "d"], ["d", "c"], ["c", "e"]]
    scores = [s for _, s in reciprocal_rank_fusion(lists, weights=[1.0, 0.5, 3.0])]
    assert scores == sorted(scores, reverse=True)


# --- NameIndex ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def documents(resources):
    return list(resources.library.documents.values())


@pytest.fixture(scope="module")
def names(documents) -> NameIndex:
    return NameIndex(documents)


def _found(names: NameIndex, text: str) -> list[str]:
    return [c.name for c in names.find(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (CLOSE_QUESTION, ["James Close"]),
        ("close et al", ["James Close"]),  # the multi-word alias in any case
        ("What were Close's findings?", ["James Close"]),
        ("What did James Close write?", ["James Close"]),
        ("hendricks fibromyalgia", ["Peter Hendricks"]),
        ("Did Hendricks or Close find more?", ["Peter Hendricks", "James Close"]),
        ("What is the MAPS protocol?", ["MAPS"]),
        ("what happened to callie", ["Callie"]),
        ("Tell me about the microdosing case series", ["Joel Castellanos"]),
    ],
)
def test_name_index_finds_cited_names(names, text, expected):
    assert _found(names, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "how close is the FDA to approval",
        "Is it close?",
        "Are we getting closer to approval?",
        "Closed-eye visuals during the session",
        "the maps of the brain",
        "What is psilocybin?",
        "",
    ],
)
def test_name_index_leaves_everyday_words(names, text):
    assert _found(names, text) == []


def test_close_is_introduced_where_the_article_names_him(names, resources):
    close = names.names["James Close"]
    first = resources.library.passages[close.introduced_in[0]]
    assert "James Close" in first.text
    assert close.passage_ids[0] == close.introduced_in[0]


def test_close_passages_include_those_quoting_his_findings(names, resources):
    close = names.names["James Close"]
    texts = [resources.library.passages[pid].text for pid in close.passage_ids]
    assert any("Positive Reframing" in t for t in texts)
    assert any("Imperial College London" in t for t in texts)
    # the findings are quoted in passages that never repeat his name
    assert any("Positive Reframing" in t and "Close" not in t for t in texts)


def test_cited_name_passages_are_real_passages(names, resources):
    passages = resources.library.passages
    for cited in names.names.values():
        assert set(cited.passage_ids) <= set(passages), cited.name
        assert set(cited.introduced_in) <= set(cited.passage_ids), cited.name


def test_name_index_of_the_session_is_the_same(names, resources):
    assert set(resources.names.names) == set(names.names)
    assert (
        resources.names.names["James Close"].passage_ids == names.names["James Close"].passage_ids
    )


# --- BM25Index ------------------------------------------------------------------------------


def test_bm25_ranks_the_fibromyalgia_passage_first(resources):
    ranked = resources.bm25.rank("fibromyalgia", 5)
    assert ranked
    assert "fibromyalgia" in resources.library.passages[ranked[0][0]].text.lower()


def test_bm25_scores_positive_descending_and_capped_at_k(resources):
    ranked = resources.bm25.rank("MDMA therapy session", 3)
    assert 0 < len(ranked) <= 3
    scores = [s for _, s in ranked]
    assert all(s > 0 for s in scores)
    assert scores == sorted(scores, reverse=True)
    assert len(resources.bm25.rank("MDMA", 10_000)) <= len(resources.bm25.passages)


@pytest.mark.parametrize("query", ["", "   ", "the and of", "xyzzy plugh", "???", "\x00\x1b"])
def test_bm25_without_known_terms_ranks_nothing(resources, query):
    assert resources.bm25.rank(query, 5) == []


def test_bm25_stems_query_words(resources):
    assert resources.bm25.rank("Microdosed", 1)[0][0] == resources.bm25.rank("microdosing", 1)[0][0]


def test_bm25_on_a_few_passages(resources):
    passages = sorted(resources.library.passages.values(), key=lambda p: p.order)[:5]
    index = BM25Index(passages)
    assert {pid for pid, _ in index.rank("MDMA", 10)} <= {p.id for p in passages}


# --- HybridRetriever ------------------------------------------------------------------------


def test_hybrid_returns_k_documents_with_metadata(resources, settings):
    documents = resources.retriever().invoke(CLOSE_QUESTION)
    assert len(documents) == settings.top_k
    for doc in documents:
        assert set(doc.metadata) == METADATA_KEYS
        assert doc.metadata["passage_id"] == doc.id
        passage = resources.library.passages[doc.id]
        assert doc.page_content == passage.text
        assert doc.metadata["section"] == passage.section
        assert doc.metadata["names"] == ["James Close"]
        assert set(doc.metadata["ranks"]) <= {"dense", "bm25", "names"}
        assert doc.metadata["ranks"], doc.id
        assert all(r >= 1 for r in doc.metadata["ranks"].values())
        assert isinstance(doc.metadata["dense_score"], float)
    scores = [d.metadata["score"] for d in documents]
    assert scores == sorted(scores, reverse=True)
    assert len({d.id for d in documents}) == len(documents)


def test_hybrid_close_question_reaches_his_findings(resources):
    documents = resources.retriever().invoke(CLOSE_QUESTION)
    assert "James Close" in documents[0].page_content
    assert any("Positive Reframing" in d.page_content for d in documents)
    close = resources.names.names["James Close"]
    assert {d.id for d in documents} <= set(close.passage_ids)


def test_hybrid_fibromyalgia_passage_first(resources):
    documents = resources.retriever().invoke("hendricks fibromyalgia")
    assert "fibromyalgia" in documents[0].page_content.lower()
    assert documents[0].metadata["names"] == ["Peter Hendricks"]
    assert set(documents[0].metadata["ranks"]) == {"dense", "bm25", "names"}


def test_hybrid_dense_score_is_set_only_for_dense_hits(resources):
    for doc in resources.retriever().invoke(CLOSE_QUESTION):
        if "dense" in doc.metadata["ranks"]:
            assert doc.metadata["dense_score"] > 0
        else:
            assert doc.metadata["dense_score"] == 0.0


@pytest.mark.parametrize(
    ("variant", "allowed"),
    [
        (Variant(bm25=False, names=False), {"dense"}),
        (Variant(dense=False, names=False), {"bm25"}),
        (Variant(dense=False), {"bm25", "names"}),
        (Variant(bm25=False), {"dense", "names"}),
        (Variant(names=False), {"dense", "bm25"}),
    ],
)
def test_variants_rank_only_with_their_retrievers(resources, variant, allowed):
    documents = resources.retriever(variant).invoke(CLOSE_QUESTION)
    assert documents
    used = set().union(*(d.metadata["ranks"] for d in documents))
    assert used <= allowed
    if not variant.dense:
        assert all(d.metadata["dense_score"] == 0.0 for d in documents)
    if not variant.names:
        assert all(d.metadata["names"] == [] for d in documents)


def test_dense_only_has_no_bm25_rank(resources, settings):
    documents = resources.retriever(Variant(bm25=False, names=False)).invoke("fibromyalgia")
    assert len(documents) == settings.top_k
    assert all(set(d.metadata["ranks"]) == {"dense"} for d in documents)
    assert [d.metadata["ranks"]["dense"] for d in documents] == [1, 2, 3, 4]


def test_dense_score_is_a_similarity_that_falls_with_the_dense_rank(resources):
    import numpy as np

    query = "fibromyalgia"
    documents = resources.retriever(Variant(bm25=False, names=False)).invoke(query)
    similarities = [d.metadata["dense_score"] for d in documents]
    # expected: the cosine of the query with each passage's stored (normalised) vector
    vector = np.asarray(resources.embeddings.embed_query(query), dtype=np.float32)
    got = resources.library.vectorstore._collection.get(
        ids=[d.id for d in documents], include=["embeddings"]
    )
    cosine = dict(zip(got["ids"], (np.asarray(got["embeddings"]) @ vector).tolist()))
    assert similarities == sorted(similarities, reverse=True)
    assert similarities == pytest.approx([cosine[d.id] for d in documents], abs=1e-3)


def test_everything_off_retrieves_nothing(resources):
    variant = Variant(bm25=False, dense=False, names=False)
    assert resources.retriever(variant).invoke(CLOSE_QUESTION) == []


def test_bm25_only_retrieves_nothing_for_unknown_words(resources):
    assert resources.retriever(Variant(dense=False, names=False)).invoke("xyzzy plugh") == []


def test_variants_are_copies(resources):
    resources.retriever(Variant(bm25=False, dense=False, names=False))
    full = resources.retriever()
    assert full.use_bm25 and full.use_dense and full.use_names


@pytest.mark.parametrize("query", ["", "???", "xyzzy", "é" * 500])
def test_hybrid_on_odd_queries_returns_at_most_k(resources, settings, query):
    documents = resources.retriever().invoke(query)
    assert len(documents) <= settings.top_k
    assert all(d.metadata["names"] == [] for d in documents)
