"""The backend a searcher reads: the index folder, or Milvus."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from indexer.errors import IndexerError
from indexer.retrieval.local import LocalBackend


def open_backend(index_dir: Path, model: str, backend: str | None) -> Any:
    """Where the served builds come from: the index folder, or Milvus (backend milvus://...)."""
    from indexer.retrieval.milvus.client import MilvusAddress, is_milvus
    from indexer.retrieval.milvus.served import MilvusBackend

    if is_milvus(backend):
        return MilvusBackend(MilvusAddress.parse(backend), model)
    if backend and backend.strip() not in ("local", ""):
        raise IndexerError(f"backend {backend!r} is not known: use local (the index folder) "
                           "or milvus://HOST:PORT/NAME")
    return LocalBackend(index_dir, model)
