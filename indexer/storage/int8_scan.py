"""A flat store searched through an 8-bit copy of its vectors: a quarter of the bytes read at
each search, and the best candidates scored again from the float vectors, so the ids and scores
are the float scan's."""

from __future__ import annotations

import math

import faiss
import numpy as np

# Candidates taken from the 8-bit scan beyond the k asked, scored again exactly: the 8-bit
# scores misplace some near the k-th. With k // 4 + 16, the exact top 1,000 was found whole
# for 300 of 300 questions on NewsArticles (33,749 passages); with none, for 0.994 of its ids.
SLACK_SHARE, SLACK_MIN = 4, 16
CHUNK = 8_192  # vectors coded at a time when the copy is made (bounds the float temporaries)
LIMIT = 127  # the 8-bit codes' range: -127..127 (the vectors scaled by their largest value)
# FAISS keeps the best of a scan in a heap, which for the 1,266 candidates of a 1,000-deep list
# costs as much as the scan itself (1.12 ms against 0.67 for the scan alone, NewsArticles). So
# one vector in SAMPLE_EVERY is scanned first (a small heap) to set a bar that about
# SAMPLE_MARGIN times the candidates pass, then the whole copy is scanned keeping those above it
# (no heap); too few above it (none of 300 NewsArticles headlines): the heap's scan. The bar is
# at least the sample's SAMPLE_LEAST-th best (a short list's bar from one sampled vector would
# vary too much). Worth it where the store holds RANGED_FROM times the candidates or more.
SAMPLE_EVERY, SAMPLE_MARGIN, SAMPLE_LEAST, RANGED_FROM = 16, 1.5, 8, 8


def coded(index: faiss.Index) -> faiss.Index:
    """The 8-bit copy of a flat store's vectors (index: an IndexIDMap2 over an IndexFlatIP), in
    the same order: n * dimension bytes, saved beside the store so that the processes serving it
    share one copy."""
    n, dimension = int(index.ntotal), int(index.d)
    vectors = _floats(faiss.downcast_index(index.index), n, dimension)
    largest = max((float(np.abs(vectors[s:s + CHUNK]).max()) for s in range(0, n, CHUNK)),
                  default=0.0)
    scale = LIMIT / max(largest, 1e-12)
    # "direct" codes: each value its own byte, no per-dimension range; the questions are scaled
    # and rounded the same way, so the scan's products are of small integers.
    codes = faiss.IndexScalarQuantizer(dimension, faiss.ScalarQuantizer.QT_8bit_direct_signed,
                                       faiss.METRIC_INNER_PRODUCT)
    for start in range(0, n, CHUNK):
        codes.add(np.round(vectors[start:start + CHUNK] * scale))
    return codes


def _floats(flat: faiss.Index, n: int, dimension: int) -> np.ndarray:
    """The flat index's vectors as an array over its own memory (mapped or not), not a copy."""
    return faiss.rev_swig_ptr(flat.get_xb(), n * dimension).reshape(n, dimension)


class Int8Scan:
    """A flat store (an IndexIDMap2 over an IndexFlatIP) searched through its 8-bit copy
    (coded; made here when none was saved)."""

    def __init__(self, index: faiss.Index, codes: faiss.Index | None = None):
        self.flat = faiss.downcast_index(index.index)
        self.ids = faiss.vector_to_array(index.id_map).astype(np.int64)
        self.codes = codes if codes is not None else coded(index)
        codes = faiss.downcast_index(self.codes)
        self._bytes = codes.codes.data()  # the copy's codes, mapped or not, never copied
        every = np.arange(0, int(codes.ntotal), SAMPLE_EVERY)
        self._sample = faiss.IndexScalarQuantizer(codes.d, codes.sq.qtype,
                                                  faiss.METRIC_INNER_PRODUCT)
        if len(every):
            self._sample.add(codes.reconstruct_batch(every))
        # An inverted file of one list, used only for its scanner over the codes above.
        self._scanned = faiss.IndexIVFScalarQuantizer(
            faiss.IndexFlatIP(codes.d), codes.d, 1, codes.sq.qtype, faiss.METRIC_INNER_PRODUCT,
            False)
        self._scanned.is_trained = True

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (n_queries, k), best first, as the flat index's search gives
        them, equal scores by id (k at most the number of vectors; queries float32,
        contiguous)."""
        wide = min(len(self.ids), k + k // SLACK_SHARE + SLACK_MIN)
        largest = np.abs(queries).max(axis=1, keepdims=True)
        coded = np.round(queries * (LIMIT / np.maximum(largest, 1e-12))).astype(np.float32)
        at = np.stack([self._best_coded(row, wide) for row in coded])
        scores = np.empty(at.shape, dtype=np.float32)
        self.flat.compute_distance_subset(len(queries), faiss.swig_ptr(queries), wide,
                                          faiss.swig_ptr(scores), faiss.swig_ptr(at))
        ids = self.ids[at]
        # Equal scores by id (FAISS's heap leaves them in no set order).
        best = np.stack([np.lexsort((row_ids, -row))[:k] for row, row_ids in zip(scores, ids)])
        return np.take_along_axis(scores, best, axis=1), np.take_along_axis(ids, best, axis=1)

    def _best_coded(self, query: np.ndarray, wide: int) -> np.ndarray:
        """The places of the `wide` vectors with the best 8-bit products with the coded query
        (dimension,): above a sampled bar where the store is large enough and enough pass it
        (equal products by place), else by FAISS's heap."""
        ranged = self._ranged(query, wide) if self.codes.ntotal >= RANGED_FROM * wide else None
        return self.codes.search(query[None], wide)[1][0] if ranged is None else ranged

    def _ranged(self, query: np.ndarray, wide: int) -> np.ndarray | None:
        """_best_coded's places by the bar; None where fewer than `wide` pass it."""
        rank = max(SAMPLE_LEAST, math.ceil(wide * SAMPLE_MARGIN / SAMPLE_EVERY))
        bars, _ = self._sample.search(query[None], min(rank, int(self._sample.ntotal)))
        # Products of small integers, exact in float32: those equal to the bar are kept too.
        scores, places = self._above(query, float(bars[0, -1]) - 0.5)
        if len(places) < wide:
            return None
        # The best `wide` by product, equal products by place, in one partition (not a sort:
        # a store of near-equal vectors may pass thousands): the product's negative above the
        # place in one 64-bit key (products at most dimension * 127**2, exact in float32 up to
        # 1,040 dimensions; places below 2**32).
        keys = -np.rint(scores).astype(np.int64) * 2**32 + places
        return places[np.argpartition(keys, wide - 1)[:wide]]

    def _above(self, query: np.ndarray, bar: float) -> tuple[np.ndarray, np.ndarray]:
        """(8-bit products, places) of every vector whose product with the query is above bar."""
        found = faiss.RangeSearchResult(1)
        partial = faiss.RangeSearchPartialResult(found)
        scanner = self._scanned.get_InvertedListScanner(True, None, None)
        query = np.ascontiguousarray(query, dtype=np.float32)
        scanner.set_query(faiss.swig_ptr(query))
        scanner.set_list(0, 0.0)
        scanner.scan_codes_range(int(self.codes.ntotal), self._bytes, None, bar,
                                 partial.new_result(0))
        partial.finalize()
        count = int(faiss.rev_swig_ptr(found.lims, 2)[1])
        return (faiss.rev_swig_ptr(found.distances, count).copy(),
                faiss.rev_swig_ptr(found.labels, count).astype(np.int64))
