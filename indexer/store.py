"""The vector store: the one place that knows FAISS, behind an interface another engine can fill."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import faiss
import numpy as np

from .errors import IndexCorruptError

VECTORS_NAME = "vectors.faiss"


class VectorStore(Protocol):
    """Nearest-neighbour search over passage vectors keyed by integer passage ids."""

    dimension: int

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Add vectors (n, dimension) float32 under the given int64 ids."""

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (n_queries, k), best first, only ids in allowed if given;
        missing slots have id -1."""

    def remove(self, ids: np.ndarray) -> None:
        """Forget the vectors of the given ids."""

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of the given ids, (n, dimension)."""

    def save(self, folder: Path) -> None:
        """Write the store into folder."""

    def __len__(self) -> int:
        """Number of vectors held."""


class FaissStore:
    """Exact search with FAISS over unit vectors.

    The vectors are normalised when embedded, so inner product is cosine similarity: scores lie
    in [-1, 1] and higher is closer.
    """

    def __init__(self, dimension: int, index: faiss.Index | None = None):
        self.dimension = dimension
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Add vectors (n, dimension) float32 under the given int64 ids."""
        self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                np.ascontiguousarray(ids, dtype=np.int64))

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (n_queries, k), best first, only ids in allowed if given;
        missing slots have id -1."""
        k = max(1, min(k, len(self))) if len(self) else 1
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if allowed is None:
            return self.index.search(queries, k)
        selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        return self.index.search(queries, k, params=faiss.SearchParameters(sel=selector))

    def remove(self, ids: np.ndarray) -> None:
        """Forget the vectors of the given ids."""
        if len(ids):
            self.index.remove_ids(faiss.IDSelectorBatch(np.ascontiguousarray(ids, dtype=np.int64)))

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of the given ids, (n, dimension)."""
        return self.index.reconstruct_batch(np.ascontiguousarray(ids, dtype=np.int64))

    def save(self, folder: Path) -> None:
        """Write the store into folder."""
        faiss.write_index(self.index, str(folder / VECTORS_NAME))

    @classmethod
    def load(cls, folder: Path, dimension: int) -> "FaissStore":
        """Read folder's vectors, checking they have the expected dimension."""
        path = folder / VECTORS_NAME
        if not path.is_file():
            raise IndexCorruptError(f"{path} is missing: rebuild the index with "
                                    "`news-search index PATH`")
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise IndexCorruptError(f"{path} is unreadable or truncated ({str(exc).splitlines()[0]}):"
                                    " rebuild the index with `news-search index PATH`") from None
        if index.d != dimension:
            raise IndexCorruptError(f"{path} holds {index.d}-dimensional vectors, the manifest says "
                                    f"{dimension}: rebuild the index with `news-search index PATH`")
        return cls(dimension, index)

    def __len__(self) -> int:
        return int(self.index.ntotal)
