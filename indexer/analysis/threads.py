"""Story threads: the stories about one event, across outlets and days, beyond syndicated copies.

Two stories are linked when their dates are at most DAYS apart and their leads (each story's
first passage, as embedded) are at least SIMILARITY alike, or at least NEAR alike while sharing
OVERLAP of their headline and lead words by weight (IDF over the stories: shared rare names count,
common words hardly): a follow-up restates the event in other words. A thread is the stories so
linked, one to the next. Each story looks at its NEIGHBOURS most similar leads only. Chosen on
NewsArticles (docs/history, "Story threads"): lower, threads of one topic chained into weeks of
news. Undated stories stay alone.
"""

from __future__ import annotations

import math
from typing import Sequence

import faiss
import numpy as np

SIMILARITY = 0.75
NEAR = 0.6
OVERLAP = 0.3
DAYS = 3
NEIGHBOURS = 20
EXACT_UP_TO = 50_000  # stories compared exactly; above, an inverted-file index finds neighbours


def thread_ids(days: np.ndarray, vectors: np.ndarray,
               words: Sequence[frozenset[str]]) -> np.ndarray:
    """For stories with these days (NaN: undated), lead vectors (unit length) and the stems of
    their headlines and leads, the thread each belongs to: the position of its earliest story
    (the first report)."""
    n = len(days)
    weight = _weights(words)

    def shared(a: int, b: int) -> float:
        both = sum(weight[t] for t in words[a] & words[b])
        return both / (sum(weight[t] for t in words[a] | words[b]) or 1.0)
    parent = np.arange(n)

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    dated = np.flatnonzero(~np.isnan(days))
    if len(dated) > 1:
        leads = np.ascontiguousarray(vectors[dated], dtype=np.float32)
        k = min(NEIGHBOURS + 1, len(dated))
        if len(dated) <= EXACT_UP_TO:
            index = faiss.IndexFlatIP(leads.shape[1])
        else:
            cells = int(4 * np.sqrt(len(dated)))
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(leads.shape[1]), leads.shape[1], cells,
                                       faiss.METRIC_INNER_PRODUCT)
            index.train(leads)
            index.nprobe = 16
        index.add(leads)
        sims, near = index.search(leads, k)
        for i in range(len(dated)):
            for sim, j in zip(sims[i], near[i]):
                if j < 0 or j == i or sim < NEAR:
                    continue
                a, b = dated[i], dated[j]
                if abs(days[a] - days[b]) <= DAYS and (sim >= SIMILARITY or
                                                       shared(a, b) >= OVERLAP):
                    parent[root(a)] = root(b)
    roots = np.array([root(i) for i in range(n)])
    # Each thread is known by its earliest story (then the first in order).
    first: dict[int, int] = {}
    for i in np.lexsort((np.arange(n), np.nan_to_num(days, nan=np.inf))):
        first.setdefault(int(roots[i]), int(i))
    return np.array([first[int(r)] for r in roots], dtype=np.int64)


def _weights(words: Sequence[frozenset[str]]) -> dict[str, float]:
    """Each stem's IDF over the stories: log(stories / stories holding it)."""
    held: dict[str, int] = {}
    for bag in words:
        for stem in bag:
            held[stem] = held.get(stem, 0) + 1
    return {stem: math.log(len(words) / n) for stem, n in held.items()}
