"""The vector store: the one place that knows FAISS, behind an interface another engine can fill."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from indexer.errors import IndexCorruptError
from indexer.storage.int8_scan import Int8Scan, coded

VECTORS_NAME = "vectors.faiss"
INT8_NAME = "vectors-int8.faiss"  # a flat store's 8-bit copy, scanned by a server (int8_scan.py)


# Store kinds, named in the manifest. "flat" scans every vector (exact); "ivf-sq8" scans the
# NPROBE cells nearest the query, each vector a byte a dimension: its offset from the cell's
# centre on one scale for all dimensions, clipping the most extreme UNIFORM_CLIP at each end
# (faster than a scale a dimension, for the same recall: docs/history, "The union").
UNIFORM_CLIP = 0.0001
FLAT, IVF_SQ8 = "flat", "ivf-sq8"
KINDS = (FLAT, IVF_SQ8)
# From this many passages "auto" picks ivf-sq8: a flat scan grows linearly, about 2.5 ms at
# 50,000 passages and 5 ms at 95,000 on one core here, the largest part of a hybrid query.
AUTO_IVF_FROM = 50_000
# Cells searched (nprobe_for): 256 keep about 0.95-0.98 of the exact top 10 up to 2,048 cells;
# beyond, nprobe grows with the square root of the cells (docs/history, "Approximate search").
NPROBE, NPROBE_CELLS = 256, 2048
CELLS_PER_ROOT = 8  # cells: about this many times the square root of the number of passages
TRAIN_PER_CELL = 64  # vectors sampled to train each cell's centroid (FAISS warns below 39)
# A filtered search that leaves at most this many passages is exact over just those vectors.
EXACT_FILTERED = 20_000
# A flat store of this many vectors or more is saved with an 8-bit copy (INT8_NAME, a quarter
# of its bytes), which a server scans instead (int8_scan.py): 5% less CPU a search served from
# NewsArticles' 33,749 passages, the same answers.
INT8_SCAN_FROM = 4_096


def choose_kind(kind: str, passages: int) -> str:
    """The store kind to build for this many passages: kind itself, or by size for "auto"."""
    if kind == "auto":
        return IVF_SQ8 if passages >= AUTO_IVF_FROM else FLAT
    if kind not in KINDS:
        raise ValueError(f"store must be auto or one of {', '.join(KINDS)}, got {kind!r}")
    return kind


def cells_for(passages: int) -> int:
    """IVF cells for this many passages: the power of two nearest 8 sqrt(n), fewer if there are
    not 39 passages to train each (below that FAISS's k-means is unreliable)."""
    root = CELLS_PER_ROOT * max(passages, 1) ** 0.5
    return max(1, min(1 << round(np.log2(root)), passages // 39))


def nprobe_for(cells: int) -> int:
    """Cells an IVF of this many cells searches by default: NPROBE up to NPROBE_CELLS, then
    NPROBE times the square root of how many times more cells there are, rounded up to a
    multiple of 64 (384 at 4,096 cells, 512 at 8,192); never more than there are."""
    if cells <= NPROBE_CELLS:
        return min(NPROBE, cells)
    return min(cells, int(-(-NPROBE * (cells / NPROBE_CELLS) ** 0.5 // 64)) * 64)


class FaissStore:
    """Search with FAISS over unit vectors: exact (flat), or approximate (IVF, 8-bit codes).

    The vectors are normalised when embedded, so inner product is cosine similarity: scores lie
    in [-1, 1] and higher is closer.
    """

    def __init__(self, dimension: int, index: faiss.Index | None = None,
                 scan: Int8Scan | None = None):
        """scan: the flat store's 8-bit copy, searched instead (for a store that will not
        change)."""
        self.dimension = dimension
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        self._scan = scan

    @property
    def kind(self) -> str:
        """FLAT or IVF_SQ8."""
        return IVF_SQ8 if isinstance(self.index, faiss.IndexIVF) else FLAT

    @property
    def description(self) -> str:
        """The kind and its parameters, for the manifest and the health endpoint."""
        if self.kind == FLAT:
            return "faiss-flat-ip"
        uniform = faiss.downcast_index(self.index).sq.qtype == faiss.ScalarQuantizer.QT_8bit_uniform
        return (f"faiss-ivf{self.index.nlist}-sq8{'-uniform' if uniform else ''}"
                f"-nprobe{self.index.nprobe}")

    def converted(self, kind: str, nprobe: int | None = None, seed: int = 0,
                  cells: int | None = None) -> "FaissStore":
        """This store's vectors in a store of kind (self if it is one already): IVF cells (by
        default cells_for the size) are trained on a sample of the vectors, and nprobe of them
        searched (default: nprobe_for the cells)."""
        if kind == self.kind:
            if kind == IVF_SQ8:
                self.index.nprobe = min(nprobe or nprobe_for(self.index.nlist), self.index.nlist)
            return self
        ids = self.ids()
        vectors = self.vectors(ids)
        if kind == FLAT:
            store = FaissStore(self.dimension)
        else:
            cells = cells or cells_for(len(ids))
            quantizer = faiss.IndexFlatIP(self.dimension)
            index = faiss.IndexIVFScalarQuantizer(quantizer, self.dimension, cells,
                                                  faiss.ScalarQuantizer.QT_8bit_uniform,
                                                  faiss.METRIC_INNER_PRODUCT)
            index.sq.rangestat = faiss.ScalarQuantizer.RS_quantiles
            index.sq.rangestat_arg = UNIFORM_CLIP
            sample = np.random.default_rng(seed).permutation(len(ids))[:cells * TRAIN_PER_CELL]
            index.train(np.ascontiguousarray(vectors[np.sort(sample)]))
            index.set_direct_map_type(faiss.DirectMap.Hashtable)  # by-id remove and reconstruct
            index.nprobe = min(nprobe or nprobe_for(cells), cells)
            store = FaissStore(self.dimension, index)
        store.add(vectors, ids)
        return store

    def ids(self) -> np.ndarray:
        """The ids held, in no particular order."""
        if self.kind == FLAT:
            return faiss.vector_to_array(self.index.id_map).astype(np.int64)
        invlists = self.index.invlists
        return np.concatenate([faiss.rev_swig_ptr(invlists.get_ids(c), invlists.list_size(c))
                               .copy() for c in range(self.index.nlist)] or
                              [np.zeros(0, np.int64)]).astype(np.int64)

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
            return (self._scan or self.index).search(queries, k)
        allowed = np.ascontiguousarray(allowed, dtype=np.int64)
        if self.kind == IVF_SQ8 and len(allowed) <= EXACT_FILTERED:
            return self._exact_among(queries, k, allowed)
        return self.index.search(queries, k, params=self._among(allowed))

    def _among(self, allowed: np.ndarray) -> faiss.SearchParameters:
        """Search parameters that keep to the allowed ids (an IVF's with its nprobe)."""
        selector = faiss.IDSelectorBatch(allowed)
        return faiss.SearchParametersIVF(sel=selector, nprobe=self.index.nprobe) \
            if self.kind == IVF_SQ8 else faiss.SearchParameters(sel=selector)

    def above(self, query: np.ndarray, bar: float, allowed: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
        """Every stored vector (only ids in allowed, if given) whose inner product with the one
        query vector is above bar, as (ids, scores), best first: FAISS's range search, as exact
        or approximate as the store's search."""
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        if not len(self):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        params = None
        if allowed is not None:
            allowed = np.ascontiguousarray(allowed, dtype=np.int64)
            if self.kind == IVF_SQ8 and len(allowed) <= EXACT_FILTERED:
                scores = self.vectors(allowed) @ query[0]
                ids, scores = allowed[scores > bar], scores[scores > bar]
                order = np.argsort(-scores, kind="stable")
                return ids[order], scores[order]
            params = self._among(allowed)
        _, scores, ids = self.index.range_search(query, float(bar), params=params)
        order = np.lexsort((ids, -scores))  # best first, equal scores by id
        return ids[order].astype(np.int64), scores[order]

    def _exact_among(self, queries: np.ndarray, k: int, allowed: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
        """Exact search over the allowed ids' vectors alone: a narrow filter would leave the
        probed cells nearly empty."""
        scores = queries @ self.vectors(allowed).T
        k_found = min(k, len(allowed))
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k_found]
        out_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        out_ids = np.full((len(queries), k), -1, dtype=np.int64)
        out_scores[:, :k_found] = np.take_along_axis(scores, top, axis=1)
        out_ids[:, :k_found] = allowed[top]
        return out_scores, out_ids

    def remove(self, ids: np.ndarray) -> None:
        """Forget the vectors of the given ids."""
        if len(ids):
            ids = np.ascontiguousarray(ids, dtype=np.int64)
            # An IVF's id hashtable takes an id array only; ids must outlive the selector.
            selector = faiss.IDSelectorArray(len(ids), faiss.swig_ptr(ids)) \
                if self.kind == IVF_SQ8 else faiss.IDSelectorBatch(ids)
            self.index.remove_ids(selector)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of the given ids, (n, dimension)."""
        return self.index.reconstruct_batch(np.ascontiguousarray(ids, dtype=np.int64))

    def save(self, folder: Path) -> None:
        """Write the store into folder (a flat one from INT8_SCAN_FROM vectors with its 8-bit
        copy)."""
        faiss.write_index(self.index, str(folder / VECTORS_NAME))
        if self.kind == FLAT and len(self) >= INT8_SCAN_FROM:
            faiss.write_index(coded(self.index), str(folder / INT8_NAME))

    @classmethod
    def load(cls, folder: Path, dimension: int, mapped: bool = False) -> "FaissStore":
        """Read folder's vectors, checking they have the expected dimension. mapped=True (for
        searching only: the store cannot then change) maps the file's vectors into memory
        instead of copying them, so the processes serving one index share one copy."""
        path = folder / VECTORS_NAME
        if not path.is_file():
            raise IndexCorruptError(f"{path} is missing: rebuild the index with "
                                    "`news-search index PATH`")
        try:
            index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC if mapped else 0)
        except RuntimeError as exc:
            reason = str(exc).splitlines()[0]
            raise IndexCorruptError(f"{path} is unreadable or truncated ({reason}): rebuild the "
                                    "index with `news-search index PATH`") from None
        if index.d != dimension:
            raise IndexCorruptError(f"{path} holds {index.d}-dimensional vectors, the manifest "
                                    f"says {dimension}: rebuild the index with "
                                    "`news-search index PATH`")
        return cls(dimension, index, _scan(folder, index) if mapped else None)

    def __len__(self) -> int:
        return int(self.index.ntotal)


def _scan(folder: Path, index: faiss.Index) -> Int8Scan | None:
    """The 8-bit scan of a flat store opened for searching: its saved copy mapped, or made now
    (a build saved before the copy was); None for a small or an IVF store."""
    if isinstance(index, faiss.IndexIVF) or index.ntotal < INT8_SCAN_FROM:
        return None
    path = folder / INT8_NAME
    try:
        codes = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC) if path.is_file() else None
    except RuntimeError:
        codes = None  # unreadable: made again from the vectors, which are the truth
    if codes is None or codes.ntotal != index.ntotal or codes.d != index.d:
        codes = None
    return Int8Scan(index, codes)
