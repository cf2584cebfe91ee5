"""What a process loads once and every turn reads: the embedding model, the opened index, BM25,
the name index, the sentence features, the answerers (on first use) and the corpus profile."""

from __future__ import annotations

from functools import cached_property, lru_cache

from assistant.answer import SentenceScorer
from assistant.answerers import Candidates, make_answerer, make_candidates
from assistant.config import Settings
from assistant.profile import DocumentInfo, load_profile


class Resources:
    """The model, the opened index, BM25, the name index and the corpus profile: built once
    per process."""

    def __init__(self, settings: Settings) -> None:
        from assistant.embeddings import get_embeddings
        from assistant.index import ensure_index, open_library
        from assistant.names import NameIndex
        from assistant.rails.intents import cite_people
        from assistant.retrieval import (
            BM25Retriever,
            ChromaDenseRetriever,
            HybridRetriever,
            NameRetriever,
        )

        self.settings = settings
        ensure_index(settings)  # compares hashes only when the index is current
        self.embeddings = get_embeddings()
        self.library = open_library(settings, self.embeddings)
        ordered = sorted(self.library.passages.values(), key=lambda p: (p.doc_id, p.order))
        self.names = NameIndex(list(self.library.documents.values()))
        cite_people(self.names)  # the rails' ``${cited_people}``: this corpus's people
        self.bm25 = BM25Retriever(ordered)
        self.texts = {doc_id: d.text for doc_id, d in self.library.documents.items()}
        self.scorer = SentenceScorer(self.library.sentences)
        self._answerers: dict = {}
        documents = sorted(self.library.documents.values(), key=lambda d: d.id)
        self.profile = load_profile(
            settings.corpus_dir, [DocumentInfo(d.title, d.author) for d in documents]
        )
        self._retriever = HybridRetriever(
            passages=self.library.passages,
            dense=ChromaDenseRetriever(self.library.vectorstore, self.embeddings),
            bm25=self.bm25,
            names=NameRetriever(self.names),
            k=settings.top_k,
            candidates=settings.candidates,
            rrf_k=settings.rrf_k,
        )

    def candidates(self, question: str, passages, names) -> Candidates:
        """The retrieved passages' sentences and their answer features
        (``answerers.make_candidates`` over what this process loaded)."""
        return make_candidates(
            question,
            self.embeddings.embed_query(question),
            passages,
            [self.names.names[n] for n in names],
            self.scorer,
            self.library.sentence_vectors,
            self.library.sentence_rows,
        )

    def answerer(self, name: str | None = None):
        """The answerer called ``name`` (by default the settings'), made once."""
        name = name or self.settings.answerer
        if name not in self._answerers:
            self._answerers[name] = make_answerer(name, self.settings.reader_candidates)
        return self._answerers[name]

    @cached_property
    def router(self):
        """The learned router (``assistant/routes/router.py``), on the query encoder."""
        import re

        from assistant.routes.router import Router

        words = {
            w for p in self.library.passages.values() for w in re.findall(r"[A-Za-z]+", p.text)
        }
        titles = [d.title for d in self.library.documents.values()]
        return Router(self.embeddings.embed_many, self.names, known=words, titles=titles)

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
