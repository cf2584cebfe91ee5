"""Hybrid retrieval: BM25 (bm25s) and dense (Chroma) rankings fused by reciprocal rank, plus a
name index (``names.py``) so "what did Close et al. find?" reaches what a document reports of Close."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from assistant.names import NameIndex
from assistant.types import Passage


class BM25Index:
    """Lexical ranking of passages with bm25s (English stopwords, Snowball stemming)."""

    def __init__(self, passages: Sequence[Passage]) -> None:
        import bm25s
        import Stemmer

        self._bm25s = bm25s
        self._stemmer = Stemmer.Stemmer("english")
        self.passages = list(passages)
        tokens = bm25s.tokenize(
            [p.text for p in self.passages], stemmer=self._stemmer, show_progress=False
        )
        self._model = bm25s.BM25()
        self._model.index(tokens, show_progress=False)
        self._vocab = tokens.vocab

    def rank(self, query: str, k: int) -> list[tuple[str, float]]:
        """Passage ids with positive BM25 scores, best first."""
        tokens = self._bm25s.tokenize(
            query, stemmer=self._stemmer, show_progress=False, return_ids=False
        )
        known = [[t for t in tokens[0] if t in self._vocab]]
        if not known[0]:
            return []
        k = min(k, len(self.passages))
        ids, scores = self._model.retrieve(known, k=k, show_progress=False, n_threads=1)
        return [(self.passages[i].id, float(s)) for i, s in zip(ids[0], scores[0]) if s > 0]


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]], k: int = 60, weights: Sequence[float] | None = None
) -> list[tuple[str, float]]:
    """Fuse ranked id lists: score(d) = sum over lists of weight / (k + rank)."""
    scores: dict[str, float] = {}
    for i, ranking in enumerate(rankings):
        weight = weights[i] if weights else 1.0
        for rank, pid in enumerate(ranking, start=1):
            scores[pid] = scores.get(pid, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda item: -item[1])


class HybridRetriever(BaseRetriever):
    """A LangChain retriever fusing BM25, dense (Chroma) and name-index rankings by RRF.

    Each stage can be switched off for ablations; the returned documents carry the passage id,
    the fused score and the rank each retriever gave.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    vectorstore: object  # langchain_chroma.Chroma
    embeddings: object  # assistant.index.QueryEmbeddings
    bm25: BM25Index
    names: NameIndex
    passages: dict[str, Passage]
    k: int = 4
    candidates: int = 10
    rrf_k: int = 60
    # A named person outweighs one retriever: the passages reporting on Close should all reach
    # the answer stage for "what did Close et al. find?" (measured on evals/cases/answer.jsonl).
    name_weight: float = 2.0
    use_bm25: bool = True
    use_dense: bool = True
    use_names: bool = True

    def dense_rank(self, query: str, k: int) -> list[tuple[str, float]]:
        """Passage ids by cosine similarity to the query, best first."""
        vector = list(self.embeddings.embed_query(query))
        # despite its name, this returns Chroma's cosine *distance* (lower is closer)
        hits = self.vectorstore.similarity_search_by_vector_with_relevance_scores(vector, k=k)
        return [(doc.id, 1.0 - float(distance)) for doc, distance in hits]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun | None = None
    ) -> list[LCDocument]:
        rankings: dict[str, list[str]] = {}
        dense_scores: dict[str, float] = {}
        if self.use_dense:
            dense_scores = dict(self.dense_rank(query, self.candidates))
            rankings["dense"] = list(dense_scores)
        if self.use_bm25:
            rankings["bm25"] = [pid for pid, _ in self.bm25.rank(query, self.candidates)]
        cited = self.names.find(query) if self.use_names else []
        if cited:
            # What the article reports of a named person: where it introduces them first, then
            # the rest, most relevant to the question first.
            dense = rankings.get("dense", [])
            reported = dict.fromkeys(pid for c in cited for pid in c.passage_ids)
            first = [c.introduced_in[0] for c in cited if c.introduced_in]
            rest = sorted(reported, key=lambda p: dense.index(p) if p in dense else 99)
            rankings["names"] = list(dict.fromkeys(first + rest))
        weights = {"names": self.name_weight}
        fused = reciprocal_rank_fusion(
            list(rankings.values()), self.rrf_k, [weights.get(n, 1.0) for n in rankings]
        )[: self.k]
        documents = []
        for pid, score in fused:
            passage = self.passages[pid]
            ranks = {name: r.index(pid) + 1 for name, r in rankings.items() if pid in r}
            documents.append(
                LCDocument(
                    id=pid,
                    page_content=passage.text,
                    metadata={
                        "passage_id": pid,
                        "score": score,
                        "dense_score": dense_scores.get(pid, 0.0),
                        "ranks": ranks,
                        "names": [c.name for c in cited],
                        "section": passage.section,
                    },
                )
            )
        return documents
