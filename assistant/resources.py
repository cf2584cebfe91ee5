"""What a process loads once and every turn reads: the embedding model, the opened index, BM25,
the name index, the feature scorer, the trained reader (on first use) and the corpus profile."""

from __future__ import annotations

from functools import lru_cache

from assistant.answer import SentenceScorer
from assistant.config import Settings
from assistant.profile import DocumentInfo, load_profile
from assistant.reader import choose, reader
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

    def sentence_features(self, question: str, passages, names):
        """Candidate sentences of the retrieved passages and their answer features."""
        import numpy as np

        query = np.asarray(self.embeddings.embed_query(question), dtype=np.float32)
        cited = [self.names.names[n] for n in names]
        return dict(
            question=question,
            query_vector=query,
            passages=passages,
            sentence_vectors=self.library.sentence_vectors,
            sentence_rows=self.library.sentence_rows,
            named_passages={pid for c in cited for pid in c.passage_ids},
            name_terms={t for c in cited for alias in c.aliases for t in content_terms(alias)},
        )

    @property
    def reader(self):
        """The trained reader and its calibration, loaded on first use (the default answerer
        never needs it), or None when no model ships."""
        return reader()

    def candidates(self, question: str, passages, names):
        """The retrieved passages' sentences the reader reads (the best ``reader_candidates`` by
        the feature scorer) and their feature rows: what the reader and its decision read."""
        import numpy as np

        from assistant.answer import FEATURES, WEIGHTS

        features = self.sentence_features(question, passages, names)
        sentences, matrix = self.scorer.features(**features)
        keep = self.settings.reader_candidates
        if len(sentences) > keep:
            prior = matrix @ np.asarray([WEIGHTS[f] for f in FEATURES], dtype=np.float32)
            best = sorted(np.argsort(-prior, kind="stable")[:keep].tolist())
            sentences, matrix = [sentences[i] for i in best], matrix[best]
        return sentences, matrix

    def read(self, question: str, passages, names):
        """The trained reader over the candidates, in one batched call, and its decision."""
        model, calibration = self.reader
        sentences, matrix = self.candidates(question, passages, names)
        if not sentences:
            return choose([], [], calibration)
        scores = model.score([(question, s.text) for s in sentences])
        return choose(scores, sentences, calibration, matrix)

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
