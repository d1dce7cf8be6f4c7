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
from hashlib import blake2b
from pathlib import Path
from typing import Callable, Iterable, Sequence

import bm25s
import numpy as np
from indexer.progress import progress_bar

from indexer.errors import IndexCorruptError
from indexer.storage.stopwords import StopwordHolders
from indexer.terms import analyse, phrases

FOLDER = "bm25"  # in a build folder: one sub-folder per index
# Passages and whole articles by their words; whole articles by their phrases (pairs of words
# that follow each other, terms.phrases), which hybrid search uses to favour the articles that
# say what the question says in its order.
PASSAGES, ARTICLES, PHRASES = "passages", "articles", "phrases"
STOPWORDS = "stopwords"  # which articles hold each stopword (storage/stopwords.py)
# Lucene's BM25 with the textbook k1 and b (FTS5's too). Anserini's 0.9 / 0.4 and four other
# settings scored within 0.001 nDCG@10 of it in hybrid search on both eval sets (README,
# Evaluation).
K1, B = 1.2, 0.75
_IDS = "ids.npy"

for _name in ("bm25s", "bm25s.utils", "bm25s.tokenization"):
    logging.getLogger(_name).setLevel(logging.WARNING)


def _tokenised(documents: Iterable[tuple[int, str]], terms: Callable[[str], list[str]]
               ) -> tuple[list[int], list[list[str]]]:
    """The documents' ids, and each one's text as terms(text)."""
    ids, tokens = [], []
    for doc_id, text in documents:
        ids.append(doc_id)
        tokens.append(terms(text))
    return ids, tokens


class KeywordIndex:
    """BM25 over one kind of document (passages, or whole articles), each known by an int id."""

    def __init__(self, retriever: bm25s.BM25 | None, ids: np.ndarray):
        self.retriever = retriever  # None when there are no documents
        self.ids = ids  # document number -> id, ascending

    @classmethod
    def build(cls, documents: Iterable[tuple[int, str]], k1: float = K1, b: float = B
              ) -> "KeywordIndex":
        """The index of (id, text) pairs, ids ascending."""
        ids, tokens = _tokenised(documents, analyse)
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
            for name in ("data", "indices", "indptr"):  # plain views of the mapped files: a
                # np.memmap costs microseconds at every slice, and a query takes a dozen
                retriever.scores[name] = retriever.scores[name].view(np.ndarray)
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

    def idf(self, stems: Iterable[str]) -> dict[str, float]:
        """Each stem's inverse document frequency as BM25 weighs it (Lucene's), from how many
        documents hold it: the rarer, the higher; a stem no document holds, the highest."""
        n = len(self.ids)
        if self.retriever is None:
            return {stem: 0.0 for stem in stems}
        weights = {}
        for stem in stems:
            lo, hi = self._span(stem)
            held = hi - lo
            weights[stem] = float(np.log(1 + (n - held + 0.5) / (held + 0.5)))
        return weights

    def _span(self, stem: str) -> tuple[int, int]:
        """Where the stem's column lies in the score matrix's cells (indices, data): (lo, hi),
        empty for a stem it has none of (the index being there)."""
        column = self.retriever.vocab_dict.get(stem)
        indptr = self.retriever.scores["indptr"]
        if column is None or column >= len(indptr) - 1:
            return 0, 0
        return int(indptr[column]), int(indptr[column + 1])

    def scores_of(self, stems: Sequence[str], ids: np.ndarray) -> np.ndarray:
        """The BM25 score of each of these documents for the stems (0 for one holding none, or
        not indexed), as top() scores them: their cells of the stems' columns (each column's
        documents ascending, as scipy's compressed columns keep them), summed."""
        found = np.zeros(len(ids))
        if self.retriever is None or not len(ids):
            return found
        where = np.searchsorted(self.ids, ids)
        known = (where < len(self.ids)) & (self.ids[np.minimum(where, len(self.ids) - 1)] == ids)
        scores = self.retriever.scores
        for stem in dict.fromkeys(stems):
            lo, hi = self._span(stem)
            if hi == lo:
                continue
            rows = scores["indices"][lo:hi]
            at = np.minimum(np.searchsorted(rows, where), hi - lo - 1)
            held = known & (rows[at] == where)
            found[held] += scores["data"][lo:hi][at[held]]
        return found

    def holding(self, stem: str, allowed: np.ndarray | None = None) -> np.ndarray:
        """The ids (in no particular order) of the documents that hold the stem, only those in
        allowed if given: its column of the score matrix, read, not scored."""
        if self.retriever is None:
            return np.zeros(0, dtype=np.int64)
        lo, hi = self._span(stem)
        found = self.ids[self.retriever.scores["indices"][lo:hi]]
        return found if allowed is None else found[np.isin(found, allowed, assume_unique=True)]

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


def term_keys(terms: Iterable[str]) -> np.ndarray:
    """Each term's 64-bit key: the first 8 bytes of its BLAKE2b digest, the same in every
    process (Python's own hash() is salted per process)."""
    digests = b"".join(blake2b(t.encode(), digest_size=8).digest() for t in terms)
    return np.frombuffer(digests, dtype="<u8")


class PhraseIndex:
    """BM25 over whole articles' phrases (terms.phrases: pairs of successive words), known by
    their 64-bit keys. The union's 32,692 articles hold 3.4 million distinct pairs: bm25s keeps
    its vocabulary as a Python dict, 320 MB in every server process; here it is a sorted array
    of keys, mapped from the file like the scores, so processes share one copy and open it at
    once."""

    _ARRAYS = ("ids", "keys", "columns", "data", "indices", "indptr")

    def __init__(self, ids: np.ndarray, keys: np.ndarray, columns: np.ndarray, data: np.ndarray,
                 indices: np.ndarray, indptr: np.ndarray):
        self.ids = ids  # document number -> id, ascending
        self.keys, self.columns = keys, columns  # ascending phrase keys, each one's column
        # Column c's documents are indices[indptr[c]:indptr[c + 1]], their BM25 weights data[...]
        self.data, self.indices, self.indptr = data, indices, indptr

    @classmethod
    def build(cls, documents: Iterable[tuple[int, str]], k1: float = K1, b: float = B
              ) -> "PhraseIndex":
        """The index of (id, text) pairs, ids ascending; bm25s computes the weights."""
        ids, tokens = _tokenised(documents, phrases)
        ids_array = np.array(ids, dtype=np.int64)
        if not any(tokens):  # no article of two words: nothing to match
            return cls(ids_array, np.zeros(0, "<u8"), np.zeros(0, np.int32),
                       np.zeros(0, np.float32), np.zeros(0, np.int32), np.zeros(1, np.int64))
        retriever = bm25s.BM25(k1=k1, b=b, method="lucene")
        retriever.index(tokens, show_progress=False)
        scores = retriever.scores
        # bm25s adds an empty token of its own to the vocabulary, with no column.
        vocab = {t: c for t, c in retriever.vocab_dict.items() if c < len(scores["indptr"]) - 1}
        keys = term_keys(vocab)
        order = np.argsort(keys, kind="stable")
        columns = np.fromiter(vocab.values(), dtype=np.int32, count=len(vocab))[order]
        return cls(ids_array, keys[order], columns, scores["data"], scores["indices"],
                   scores["indptr"])

    def save(self, folder: Path) -> None:
        """Write the index into folder (created)."""
        folder.mkdir(parents=True, exist_ok=True)
        for name in self._ARRAYS:
            np.save(folder / f"{name}.npy", getattr(self, name))

    @classmethod
    def load(cls, folder: Path) -> "PhraseIndex":
        """The index saved in folder, its arrays memory-mapped."""
        try:
            # Plain views of the mapped files: a np.memmap costs microseconds at every slice.
            arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r").view(np.ndarray)
                      for name in cls._ARRAYS}
        except (OSError, ValueError) as exc:
            raise IndexCorruptError(f"phrase index {folder} cannot be read ({exc}): rebuild "
                                    "the index with `news-search index PATH`") from None
        index = cls(**arrays)
        if not (len(index.keys) == len(index.columns) == len(index.indptr) - 1
                and len(index.data) == len(index.indices) == int(index.indptr[-1])):
            raise IndexCorruptError(f"phrase index {folder} is inconsistent: rebuild the index "
                                    "with `news-search index PATH`")
        return index

    def __len__(self) -> int:
        return len(self.ids)

    def matches(self, pairs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The documents that hold any of the query's phrases, as two arrays: ids (ascending,
        int64) and BM25 scores (float64, bm25s's own sums)."""
        wanted = term_keys(dict.fromkeys(pairs))
        if not len(wanted) or not len(self.keys):
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        at = np.searchsorted(self.keys, wanted).clip(max=len(self.keys) - 1)
        columns = self.columns[at[self.keys[at] == wanted]]
        if not len(columns):
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        # Only the few postings of those phrases are touched (a zeroed array over every
        # document cost more than all the rest); each document's weights are added up in the
        # query's order, as bm25s does.
        spans = [(self.indptr[column], self.indptr[column + 1]) for column in columns]
        docs = np.concatenate([self.indices[start:end] for start, end in spans])
        weights = np.concatenate([self.data[start:end] for start, end in spans])
        order = np.argsort(docs, kind="stable")
        docs, weights = docs[order], weights[order]
        first = np.flatnonzero(np.concatenate(([True], docs[1:] != docs[:-1])))
        return self.ids[docs[first]], np.add.reduceat(weights, first).astype(np.float64)


def write_keyword_indexes(folder: Path, passages: Sequence[tuple[int, str]],
                          articles: Sequence[tuple[int, str]], progress: bool = False) -> None:
    """Build and save the keyword indexes of a build folder: the passages' and the articles'
    words, the articles' phrases, and which articles hold each stopword."""
    for name, documents, kind, unit in ((PASSAGES, passages, KeywordIndex, PASSAGES),
                                        (ARTICLES, articles, KeywordIndex, ARTICLES),
                                        (PHRASES, articles, PhraseIndex, ARTICLES)):
        bar = progress_bar(documents, desc=f"Keyword index of {name}", unit=f" {unit}",
                   disable=not progress, leave=False)
        kind.build(bar).save(folder / FOLDER / name)
    StopwordHolders.build(articles).save(folder / FOLDER / STOPWORDS)


def load_stopwords(folder: Path) -> StopwordHolders | None:
    """Which articles of a build folder hold each stopword; None for a build made before."""
    return StopwordHolders.load(folder / FOLDER / STOPWORDS)


def load_keyword_indexes(folder: Path) -> tuple[KeywordIndex, KeywordIndex, PhraseIndex]:
    """The keyword indexes of a build folder: passages' words, articles' words, articles'
    phrases."""
    return (KeywordIndex.load(folder / FOLDER / PASSAGES),
            KeywordIndex.load(folder / FOLDER / ARTICLES),
            PhraseIndex.load(folder / FOLDER / PHRASES))
