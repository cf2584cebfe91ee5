"""What a process loads once and every turn reads: the embedding model, the opened index, BM25,
the name index, the sentence features, the answerers (on first use) and the corpus profile."""

from __future__ import annotations

from functools import lru_cache

from assistant.answer import SentenceScorer
from assistant.answerers import Candidates, make_answerer
from assistant.config import Settings
from assistant.profile import DocumentInfo, load_profile
from assistant.terms import content_terms


class Resources:
    """The model, the opened index, BM25, the name index and the corpus profile: built once
    per process."""

    def __init__(self, settings: Settings) -> None:
        from assistant.embeddings import get_embeddings
        from assistant.index import ensure_index, open_library
        from assistant.names import NameIndex
        from assistant.retrieval import BM25Index, HybridRetriever

        self.settings = settings
        ensure_index(settings)  # compares hashes only when the index is current
        self.embeddings = get_embeddings()
        self.library = open_library(settings, self.embeddings)
        ordered = sorted(self.library.passages.values(), key=lambda p: (p.doc_id, p.order))
        self.names = NameIndex(list(self.library.documents.values()))
        self.bm25 = BM25Index(ordered)
        self.texts = {doc_id: d.text for doc_id, d in self.library.documents.items()}
        self.scorer = SentenceScorer(self.library.sentences)
        self._answerers: dict = {}
        documents = sorted(self.library.documents.values(), key=lambda d: d.id)
        self.profile = load_profile(
            settings.corpus_dir, [DocumentInfo(d.title, d.author) for d in documents]
        )
        self._retriever = HybridRetriever(
            vectorstore=self.library.vectorstore,
            embeddings=self.embeddings,
            bm25=self.bm25,
            names=self.names,
            passages=self.library.passages,
            k=settings.top_k,
            candidates=settings.candidates,
            rrf_k=settings.rrf_k,
        )

    def candidates(self, question: str, passages, names) -> Candidates:
        """The retrieved passages' sentences and their answer features: what every answerer
        ranks and the decision reads."""
        import numpy as np

        query = np.asarray(self.embeddings.embed_query(question), dtype=np.float32)
        cited = [self.names.names[n] for n in names]
        name_terms = frozenset(
            t for c in cited for alias in c.aliases for t in content_terms(alias)
        )
        sentences, features = self.scorer.features(
            question=question,
            query_vector=query,
            passages=passages,
            sentence_vectors=self.library.sentence_vectors,
            sentence_rows=self.library.sentence_rows,
            named_passages={pid for c in cited for pid in c.passage_ids},
            name_terms=name_terms,
        )
        return Candidates(question, tuple(sentences), features, bool(names), name_terms)

    def answerer(self, name: str | None = None):
        """The answerer called ``name`` (by default the settings'), made once."""
        name = name or self.settings.answerer
        if name not in self._answerers:
            self._answerers[name] = make_answerer(name, self.settings.reader_candidates)
        return self._answerers[name]

    def retriever(self, variant=None):
        """The hybrid retriever, with the parts a ``chain.Variant`` switches off turned off."""
        if variant is None:
            return self._retriever
        return self._retriever.model_copy(
            update={
                "use_bm25": variant.bm25,
                "use_dense": variant.dense,
                "use_names": variant.names,
            }
        )


@lru_cache(maxsize=4)
def get_resources(settings: Settings) -> Resources:
    """The process-wide resources for these settings, loaded on first use."""
    return Resources(settings)
