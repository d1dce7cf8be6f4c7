"""Keyword (BM25) retrieval over an index's passages and whole articles, with bm25s.

bm25s computes every document's BM25 weight for every word it holds when the index is built and
stores them as a sparse matrix, so a query only sums the rows of its words: a fraction of a
millisecond over 95,000 passages, where SQLite FTS5 scored each matching row at query time
(9.5 ms). Both sides are analysed by `terms.analyse` (our stopwords, Snowball stems), the same
words that highlighting marks.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Iterable, Sequence

import bm25s
import numpy as np
from tqdm import tqdm

from .errors import IndexCorruptError
from .terms import analyse

FOLDER = "bm25"  # in a build folder: one sub-folder per KeywordIndex
PASSAGES, ARTICLES = "passages", "articles"
# Lucene's BM25 with the textbook k1 and b (FTS5's too). Anserini's 0.9 / 0.4 and four other
# settings scored within 0.001 nDCG@10 of it in hybrid search on both eval sets (README,
# Evaluation).
K1, B = 1.2, 0.75
_IDS = "ids.npy"

for _name in ("bm25s", "bm25s.utils", "bm25s.tokenization"):
    logging.getLogger(_name).setLevel(logging.WARNING)


class KeywordIndex:
    """BM25 over one kind of document (passages, or whole articles), each known by an int id."""

    def __init__(self, retriever: bm25s.BM25 | None, ids: np.ndarray):
        self.retriever = retriever  # None when there are no documents
        self.ids = ids  # document number -> id, ascending

    @classmethod
    def build(cls, documents: Iterable[tuple[int, str]], k1: float = K1, b: float = B
              ) -> "KeywordIndex":
        """The index of (id, text) pairs, ids ascending."""
        ids, tokens = [], []
        for doc_id, text in documents:
            ids.append(doc_id)
            tokens.append(analyse(text))
        if not ids:
            return cls(None, np.zeros(0, dtype=np.int64))
        retriever = bm25s.BM25(k1=k1, b=b, method="lucene")
        retriever.index(tokens, show_progress=False)
        return cls(retriever, np.array(ids, dtype=np.int64))

    def save(self, folder: Path) -> None:
        """Write the index into folder (created)."""
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / _IDS, self.ids)
        if self.retriever is not None:
            self.retriever.save(folder, show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> "KeywordIndex":
        """The index saved in folder; its score matrix is memory-mapped."""
        try:
            ids = np.load(folder / _IDS)
            if not len(ids):
                return cls(None, ids)
            retriever = bm25s.BM25.load(folder, mmap=True, show_progress=False)
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            raise IndexCorruptError(f"keyword index {folder} cannot be read ({exc}): rebuild "
                                    "the index with `news-search index PATH`") from None
        if retriever.scores["num_docs"] != len(ids):
            raise IndexCorruptError(f"keyword index {folder} holds {len(ids)} ids for "
                                    f"{retriever.scores['num_docs']} documents: rebuild "
                                    "the index with `news-search index PATH`")
        return cls(retriever, ids)

    def __len__(self) -> int:
        return len(self.ids)

    def top(self, stems: Sequence[str], n: int, allowed: np.ndarray | None = None,
            ordered: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The n documents that score best for the query's stems, best first, as two arrays:
        ids (int64) and BM25 scores (float64). Only documents holding at least one of the
        stems, and only ids in `allowed` if given. ordered=False: the same n, in id order
        (for a caller that only looks them up)."""
        nothing = np.zeros(0, dtype=np.int64), np.zeros(0)
        if self.retriever is None or n <= 0:
            return nothing
        words = self.retriever.get_tokens_ids(list(dict.fromkeys(stems)))
        if not words:
            return nothing
        scores = self.retriever.get_scores_from_ids(words)
        if allowed is not None:
            where = np.searchsorted(self.ids, allowed)
            inside = where < len(self.ids)
            where = where[inside][self.ids[where[inside]] == allowed[inside]]
            keep = np.zeros(len(self.ids), dtype=bool)
            keep[where] = True
            scores = np.where(keep, scores, 0.0)
        found = np.flatnonzero(scores > 0)  # ascending: document order
        if len(found) > n:  # the n best: all above the n-th best score, then the first ties
            values = scores[found]
            cut = np.partition(values, len(values) - n)[len(values) - n]
            keep = values > cut
            keep[np.flatnonzero(values == cut)[:n - np.count_nonzero(keep)]] = True
            found = found[keep]
        values = scores[found]
        if not ordered:
            return self.ids[found], values.astype(np.float64)
        order = np.argsort(-values, kind="stable")  # best first; ties by document order
        return self.ids[found[order]], values[order].astype(np.float64)


def write_keyword_indexes(folder: Path, passages: Sequence[tuple[int, str]],
                          articles: Sequence[tuple[int, str]], progress: bool = False) -> None:
    """Build and save the passages' and the articles' keyword indexes in a build folder."""
    for name, documents in ((PASSAGES, passages), (ARTICLES, articles)):
        bar = tqdm(documents, desc=f"Keyword index of {name}", unit=f" {name}",
                   disable=not progress, leave=False)
        KeywordIndex.build(bar).save(folder / FOLDER / name)


def load_keyword_indexes(folder: Path) -> tuple[KeywordIndex, KeywordIndex]:
    """The passages' and the articles' keyword indexes of a build folder."""
    return (KeywordIndex.load(folder / FOLDER / PASSAGES),
            KeywordIndex.load(folder / FOLDER / ARTICLES))
