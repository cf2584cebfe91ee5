"""Chroma access: an embedded ``PersistentClient`` or an ``HttpClient``, and the two
collections (passages, sentences) that never embed on their own."""

from __future__ import annotations

from urllib.parse import urlparse

from assistant.config import Settings, apply_offline_env

PASSAGES = "passages"
SENTENCES = "sentences"


def chroma_client(settings: Settings):
    """An embedded ``PersistentClient`` under the index folder, or an ``HttpClient`` for a URL."""
    apply_offline_env()
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        return chromadb.HttpClient(
            host=url.hostname or "127.0.0.1",
            port=url.port or 8000,
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
    return chromadb.PersistentClient(
        path=str(settings.index_dir / "chroma"), settings=chroma_settings
    )


def collection_name(settings: Settings, kind: str) -> str:
    return f"{settings.collection}_{kind}" if kind != PASSAGES else settings.collection


def open_collection(client, settings: Settings, kind: str):
    """Get or create a cosine-space collection that never embeds on its own."""
    return client.get_or_create_collection(
        collection_name(settings, kind),
        embedding_function=None,
        configuration={"hnsw": {"space": "cosine"}},
    )
