"""Hybrid retrieval as small components, each ranking passages for a query:

    BM25Retriever         lexical (bm25s)
    ChromaDenseRetriever  dense, over the Chroma vector store
    MatrixDenseRetriever  dense, over an in-memory matrix of passage vectors (tests, small corpora)
    NameRetriever         what a document reports of the people it cites (``names.py``), so
                          "what did Close et al. find?" reaches what it reports of Close

Each has ``rank(query, k) -> [(passage id, score)]``, best first. ``WeightedRRF`` fuses their
named rankings by weighted reciprocal rank into LangChain documents, and ``HybridRetriever`` is
the one LangChain retriever that composes them, with switches to turn each off for ablations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from assistant.names import CitedName, NameIndex
from assistant.types import Passage

# (passage id, score), best first
Ranking = list[tuple[str, float]]


@runtime_checkable
class Ranker(Protocol):
    """A retrieval component: the passages for a query, best first, at most ``k``."""

    def rank(self, query: str, k: int) -> Ranking: ...


class BM25Retriever:
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

    def rank(self, query: str, k: int) -> Ranking:
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


BM25Index = BM25Retriever  # its earlier name


class ChromaDenseRetriever:
    """Passages by cosine similarity to the query, from the Chroma vector store."""

    def __init__(self, vectorstore, embeddings) -> None:
        self.vectorstore = vectorstore  # langchain_chroma.Chroma
        self.embeddings = embeddings  # anything with embed_query (embeddings.QueryEmbeddings)

    def rank(self, query: str, k: int) -> Ranking:
        vector = list(self.embeddings.embed_query(query))
        # despite its name, this returns Chroma's cosine *distance* (lower is closer)
        hits = self.vectorstore.similarity_search_by_vector_with_relevance_scores(vector, k=k)
        return [(doc.id, 1.0 - float(distance)) for doc, distance in hits]


class MatrixDenseRetriever:
    """Passages by cosine similarity to the query, over an in-memory matrix of their vectors
    (one row per id). A query without a direction (a zero vector) ranks nothing."""

    def __init__(self, ids: Sequence[str], vectors, embeddings) -> None:
        import numpy as np

        vectors = np.asarray(vectors, dtype=np.float32)
        if not len(ids):
            vectors = np.zeros((0, vectors.shape[-1] if vectors.ndim == 2 else 0), np.float32)
        if vectors.ndim != 2 or len(vectors) != len(ids):
            raise ValueError(f"{len(ids)} ids need as many vectors, not {vectors.shape}")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.ids = list(ids)
        self.vectors = vectors / np.maximum(norms, 1e-12)
        self.embeddings = embeddings

    @classmethod
    def from_passages(cls, passages: Sequence[Passage], embeddings) -> MatrixDenseRetriever:
        """Embed the passages' texts with ``embeddings.embed_documents``."""
        vectors = embeddings.embed_documents([p.text for p in passages])
        return cls([p.id for p in passages], vectors, embeddings)

    def rank(self, query: str, k: int) -> Ranking:
        import numpy as np

        vector = np.asarray(self.embeddings.embed_query(query), dtype=np.float32)
        norm = float(np.linalg.norm(vector))
        if not self.ids or k <= 0 or norm == 0.0:
            return []
        similarities = self.vectors @ (vector / norm)
        best = np.argsort(-similarities, kind="stable")[:k]
        return [(self.ids[i], float(similarities[i])) for i in best]


class NameRetriever:
    """What the documents report of the people and works a query names: the passages that
    introduce them first, then the rest of the passages reporting on them, in the order of the
    dense ranking it is given (those it lacks last, in reading order). The score is
    1 / position: fusion reads only the order."""

    def __init__(self, names: NameIndex) -> None:
        self.index = names

    def find(self, query: str) -> list[CitedName]:
        """The cited names the query mentions, in order of appearance."""
        return self.index.find(query)

    def rank(self, query: str, k: int, dense: Sequence[tuple[str, float]] = ()) -> Ranking:
        return self.rank_cited(self.find(query), k, dense)

    @staticmethod
    def rank_cited(
        cited: Sequence[CitedName], k: int, dense: Sequence[tuple[str, float]] = ()
    ) -> Ranking:
        """The ranking for names already found (``find``)."""
        position = {pid: i for i, (pid, _) in enumerate(dense)}
        reported = dict.fromkeys(pid for c in cited for pid in c.passage_ids)
        first = [c.introduced_in[0] for c in cited if c.introduced_in]
        rest = sorted(reported, key=lambda p: position.get(p, len(position)))
        ordered = list(dict.fromkeys(first + rest))[:k]
        return [(pid, 1.0 / i) for i, pid in enumerate(ordered, start=1)]


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


@dataclass(frozen=True)
class WeightedRRF:
    """Joins named rankings by weighted reciprocal rank (a ranking's weight, 1.0 unless given,
    over ``k`` + its rank of a passage, summed; ties keep the first ranking's order) into
    LangChain documents carrying the passage id, the fused score, the dense similarity (of the
    ranking named ``dense``, 0.0 for passages it lacks), each ranking's rank of the passage,
    the names the question cites and the passage's section."""

    k: int = 60
    weights: Mapping[str, float] = field(default_factory=dict)
    dense: str = "dense"

    def fuse(self, rankings: Mapping[str, Sequence[tuple[str, float]]]) -> Ranking:
        """(passage id, fused score), best first."""
        ids = [[pid for pid, _ in ranking] for ranking in rankings.values()]
        return reciprocal_rank_fusion(ids, self.k, [self.weights.get(n, 1.0) for n in rankings])

    def documents(
        self,
        rankings: Mapping[str, Sequence[tuple[str, float]]],
        passages: Mapping[str, Passage],
        top_k: int,
        names: Sequence[str] = (),
    ) -> list[LCDocument]:
        """The ``top_k`` best passages as documents, best first."""
        ids = {name: [pid for pid, _ in ranking] for name, ranking in rankings.items()}
        dense_scores = dict(rankings.get(self.dense, ()))
        documents = []
        for pid, score in self.fuse(rankings)[:top_k]:
            passage = passages[pid]
            ranks = {name: r.index(pid) + 1 for name, r in ids.items() if pid in r}
            documents.append(
                LCDocument(
                    id=pid,
                    page_content=passage.text,
                    metadata={
                        "passage_id": pid,
                        "score": score,
                        "dense_score": dense_scores.get(pid, 0.0),
                        "ranks": ranks,
                        "names": list(names),
                        "section": passage.section,
                    },
                )
            )
        return documents


class HybridRetriever(BaseRetriever):
    """The LangChain retriever: dense, BM25 and name rankings fused by weighted RRF.

    Each component can be switched off for ablations (``use_*``, or left out); the returned
    documents carry the passage id, the fused score and the rank each component gave.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    passages: dict[str, Passage]
    bm25: Ranker | None = None
    dense: Ranker | None = None
    names: NameRetriever | None = None
    k: int = 4
    candidates: int = 10  # passages each of BM25 and dense ranks
    rrf_k: int = 60
    # A named person outweighs one retriever: the passages reporting on Close should all reach
    # the answer stage for "what did Close et al. find?" (measured on evals/cases/answer.jsonl).
    name_weight: float = 2.0
    use_bm25: bool = True
    use_dense: bool = True
    use_names: bool = True

    def rankings(self, query: str) -> tuple[dict[str, Ranking], list[CitedName]]:
        """Each component's ranking by name ("dense", "bm25", "names": in that order, the
        order fusion breaks ties by), and the cited names the query mentions."""
        rankings: dict[str, Ranking] = {}
        if self.use_dense and self.dense is not None:
            rankings["dense"] = list(dict(self.dense.rank(query, self.candidates)).items())
        if self.use_bm25 and self.bm25 is not None:
            rankings["bm25"] = self.bm25.rank(query, self.candidates)
        cited = self.names.find(query) if self.use_names and self.names is not None else []
        if cited:
            # every passage reporting on them, however many
            ranked = self.names.rank_cited(cited, len(self.passages), rankings.get("dense", ()))
            rankings["names"] = ranked
        return rankings, cited

    def fusion(self) -> WeightedRRF:
        return WeightedRRF(self.rrf_k, {"names": self.name_weight})

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun | None = None
    ) -> list[LCDocument]:
        rankings, cited = self.rankings(query)
        return self.fusion().documents(
            rankings, self.passages, self.k, names=[c.name for c in cited]
        )
