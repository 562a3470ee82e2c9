"""The Chroma collection of activity chunks, kept in step with the store incrementally.

Each chunk is stored under its doc id with the hash of its text and of its metadata: an
update embeds only chunks that are new or whose text changed, rewrites the metadata of
chunks whose deal, owner or contact changed, and deletes chunks whose activity was deleted.
The collection's `index_version` (a hash of every stored key) changes with its content:
the in-memory BM25 side is cached by it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import chromadb
from chromadb.config import Settings as ChromaSettings

from dealcast.config import get_settings
from dealcast.crm.store import Store
from dealcast.rag.documents import Document, build_documents
from dealcast.rag.embeddings import MiniLmEmbeddingFunction

WRITE_BATCH = 256
EMBED_GROUP = 2048  # chunks embedded per call: 2048 x 384 floats = 3 MB
READ_PAGE = 5000
Progress = Callable[[int, int], None]  # (chunks embedded so far, chunks to embed)


@dataclass(frozen=True)
class IndexReport:
    collection: str
    documents: int  # chunks in the index after the update
    added: int
    changed: int  # text changed: re-embedded
    metadata_updated: int  # same text, new deal/owner/contact/dates: not re-embedded
    removed: int
    unchanged: int
    embedded: int
    embed_seconds: float
    seconds: float
    index_version: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def chroma_client(path: Path | None = None) -> Any:
    """A Chroma server when `DEALCAST_CHROMA_HOST` is set (and no path is given), else the
    embedded index at `path` (default: settings.chroma_path or data_dir/chroma)."""
    settings = get_settings()
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if path is None and settings.chroma_host:
        return chromadb.HttpClient(
            host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
        )
    folder = Path(path or settings.chroma_path or settings.data_dir / "chroma")
    folder.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(folder), settings=chroma_settings)


def collection_name(store: Store) -> str:
    """One collection per store, named by its database URL (password hidden)."""
    url = store.engine.url.render_as_string(hide_password=True)
    return f"dealcast-activities-{hashlib.sha256(url.encode()).hexdigest()[:12]}"


def open_collection(store: Store, *, path: Path | None = None, client: Any = None) -> Any:
    client = client if client is not None else chroma_client(path)
    return client.get_or_create_collection(
        collection_name(store),
        embedding_function=MiniLmEmbeddingFunction(),
        configuration={"hnsw": {"space": "cosine"}},
    )


def index_exists(store: Store) -> bool:
    """Does the store have an index? Checked without creating one (no folder, no empty
    collection), so an unindexed deployment or test leaves nothing behind."""
    settings = get_settings()
    folder = settings.chroma_path or settings.data_dir / "chroma"
    if not settings.chroma_host and not Path(folder).exists():
        return False
    try:
        chroma_client().get_collection(collection_name(store))
    except Exception:  # chromadb raises NotFoundError/ValueError by version: no index
        return False
    return True


def refresh_index(store: Store) -> IndexReport | None:
    """After an ingest or a sync: bring an EXISTING index up to date (only new or changed
    activities are embedded). None when the store has no index: building one is an explicit
    `dealcast index`, since a first build takes minutes to hours."""
    if not index_exists(store):
        return None
    return update_index(store)


def index_version(collection: Any) -> str:
    return str((collection.metadata or {}).get("index_version", "empty"))


def stored_keys(collection: Any) -> dict[str, tuple[str, str]]:
    """doc id -> (text hash, metadata hash) of everything in the collection."""
    out: dict[str, tuple[str, str]] = {}
    offset = 0
    while True:
        page = collection.get(include=["metadatas"], limit=READ_PAGE, offset=offset)
        for doc_id, meta in zip(page["ids"], page["metadatas"], strict=True):
            out[doc_id] = (str(meta.get("text_hash")), str(meta.get("meta_hash")))
        if len(page["ids"]) < READ_PAGE:
            return out
        offset += READ_PAGE


def update_index(
    store: Store,
    collection: Any = None,
    *,
    path: Path | None = None,
    client: Any = None,
    progress: Progress | None = None,
) -> IndexReport:
    """Bring the collection in line with the store; embeds only new or changed chunks."""
    started = time.perf_counter()
    col = collection if collection is not None else open_collection(store, path=path, client=client)
    wanted = {d.doc_id: d for d in build_documents(store)}
    keys = {i: (d.text_hash, d.meta_hash) for i, d in wanted.items()}
    stored = stored_keys(col)
    removed = sorted(set(stored) - set(wanted))
    added = [i for i in wanted if i not in stored]
    changed = [i for i in wanted if i in stored and stored[i][0] != keys[i][0]]
    relabel = [i for i in wanted if i in stored and stored[i] != keys[i] and i not in changed]
    for batch in _batches(removed):
        col.delete(ids=batch)
    for batch in _batches(relabel):
        col.update(ids=batch, metadatas=[_stored_meta(wanted[i]) for i in batch])
    embed_seconds = _embed_and_write(col, [wanted[i] for i in added + changed], progress)
    version = hashlib.sha256(repr(sorted(keys.items())).encode()).hexdigest()[:16]
    if version != index_version(col):
        col.modify(metadata={"index_version": version})
    return IndexReport(
        collection=col.name,
        documents=len(wanted),
        added=len(added),
        changed=len(changed),
        metadata_updated=len(relabel),
        removed=len(removed),
        unchanged=len(wanted) - len(added) - len(changed) - len(relabel),
        embedded=len(added) + len(changed),
        embed_seconds=round(embed_seconds, 3),
        seconds=round(time.perf_counter() - started, 3),
        index_version=version,
    )


def _embed_and_write(col: Any, docs: list[Document], progress: Progress | None) -> float:
    """Embed in large groups (the embedder sorts a group by length, so bigger groups pad
    less) and write in Chroma-sized batches."""
    embed = MiniLmEmbeddingFunction(threads=get_settings().rag_index_threads).embedder.embed
    spent, done = 0.0, 0
    for start in range(0, len(docs), EMBED_GROUP):
        group = docs[start : start + EMBED_GROUP]
        began = time.perf_counter()
        vectors = embed([d.text for d in group])
        spent += time.perf_counter() - began
        for offset in range(0, len(group), WRITE_BATCH):
            batch = group[offset : offset + WRITE_BATCH]
            col.upsert(
                ids=[d.doc_id for d in batch],
                documents=[d.text for d in batch],
                metadatas=[_stored_meta(d) for d in batch],
                embeddings=vectors[offset : offset + WRITE_BATCH],
            )
        done += len(group)
        if progress:
            progress(done, len(docs))
    return spent


def _stored_meta(doc: Document) -> dict[str, Any]:
    return {**doc.metadata, "text_hash": doc.text_hash, "meta_hash": doc.meta_hash}


def _batches(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), WRITE_BATCH):
        yield items[start : start + WRITE_BATCH]
