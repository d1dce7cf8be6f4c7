"""A build served from Milvus collections: its candidates and what describes them, as the
local index gives them (reads.py: the reads by id)."""

from __future__ import annotations

import threading
from functools import cached_property
from typing import Any, Callable, Sequence

import numpy as np

from indexer.filters import Filters
from indexer.retrieval.backend import Described, Lists, Ranked
from indexer.retrieval.milvus import columns
from indexer.retrieval.milvus.client import (
    K1,
    filter_expression,
    guarded,
    query_text,
    term_number,
    token,
)
from indexer.retrieval.milvus.columns import Found
from indexer.retrieval.milvus.reads import MilvusReads
from indexer.retrieval.milvus.schema import EF

# Milvus returns at most this many hits a search or query (its topk limit): through Milvus, a
# matching set holds at most this many passages by meaning and articles by words.
MATCH_DEPTH = 16_384
# What an articles' search asks for: the key alone (its hits' primary keys). Not no field at all:
# milvus-lite 3 then sends every field, vectors and text (353 ms a search of 600 articles).
_KEY = ["key"]


def _bm25(hits: Found) -> Found:
    """The hits of a BM25 search that share a term with the question, scored as the local
    index scores them: Milvus' BM25 is Lucene's times (k1 + 1); milvus-lite gives it negated."""
    scored = Found(hits.ids, np.abs(hits.scores) / (K1 + 1), hits.fields)
    return scored.where(scored.scores > 0)


def at_once(asks: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Each ask's answer, asked side by side: the first in this thread, each other in a thread
    of its own (real threads where gevent serves: it leaves threads unpatched; a pool's queue it
    would patch). The first exception raised is raised here, once all have ended."""
    found: dict[str, Any] = {}
    failed: list[BaseException] = []

    def ask(name: str) -> None:
        try:
            found[name] = asks[name]()
        except BaseException as exc:  # noqa: BLE001 - raised again below, in the caller
            failed.append(exc)

    names = list(asks)
    threads = [threading.Thread(target=ask, args=(name,), daemon=True) for name in names[1:]]
    for thread in threads:
        thread.start()
    if names:
        ask(names[0])
    for thread in threads:
        thread.join()
    if failed:
        raise failed[0]
    return found


class MilvusBuild(MilvusReads):
    """One build in Milvus, opened, with the searches that find candidates."""

    def _remember(self, hits: Found) -> None:
        f = hits.fields
        self._keep(self._seen, zip(hits.ids.tolist(), zip(
            f["article"], f["story"], f["day"], f["article_id"], (c > 0 for c in f["copies"]))))
        self._keep(self._story_of, zip(f["article_id"], f["story"]))
        self._keep(self._key_of, zip(f["article_id"], f["article"]))

    _FOUND = ["article", "story", "day", "article_id", "copies"]

    def admits(self, filters: Filters) -> bool:
        if not filters:
            return True
        return bool(self._query(self.passages_name, filter_expression(filters), ["pid"], limit=1))

    @guarded("search")
    def _search(self, collection: str, field: str, data: Any, depth: int, expression: str,
                fields: list[str], batch: bool = False, **params: Any) -> Any:
        """The hits of one search (columns.Found); batch: data is a list of questions, and the
        hits of each come in a list (one call for all)."""
        if depth <= 0:
            return [Found.empty(fields) for _ in data] if batch else Found.empty(fields)
        metric = "BM25" if isinstance(data, str) or batch else "IP"  # batches: of BM25 texts
        found = columns.search(self.client, collection, data if batch else [data], field, depth,
                               expression, fields, {"metric_type": metric, "params": params})
        return found if batch else found[0]

    def _dense(self, vector: np.ndarray, depth: int, filters: Filters, **params: Any
               ) -> Found:
        hits = self._search(self.passages_name, "vector",
                            np.asarray(vector, np.float32).reshape(-1).tolist(), depth,
                            filter_expression(filters), self._FOUND, ef=max(depth, EF), **params)
        self._remember(hits)
        return hits

    @staticmethod
    def _ranked(hits: Found) -> Ranked:
        """(ids, scores) of hits: their primary keys."""
        return hits.ids, hits.scores

    def semantic(self, vector: np.ndarray, depth: int, filters: Filters) -> Ranked:
        return self._ranked(self._dense(vector, depth, filters))

    def keyword(self, stems: Sequence[str], depth: int, filters: Filters,
                ordered: bool = True) -> Ranked:
        if not stems:
            return self._ranked(Found.empty())
        hits = _bm25(self._search(self.passages_name, "words", query_text(stems), depth,
                                  filter_expression(filters), self._FOUND))
        self._remember(hits)
        return self._ranked(hits)

    def article_keyword(self, stems: Sequence[str], depth: int, filters: Filters) -> Ranked:
        """In the same search (a batch of questions), the articles holding each stem, kept for
        the matching set that the search asks for next (holding_each): one call for both."""
        if not stems:
            return self._ranked(Found.empty())
        unique = list(dict.fromkeys(stems))
        found = self._search(self.articles_name, "words",
                             [query_text(stems), *(token(s) for s in unique)],
                             max(depth, MATCH_DEPTH), filter_expression(filters), _KEY,
                             batch=True)
        self._keep(self._held, [((tuple(unique), filters),
                                 [np.sort(_bm25(hits).ids) for hits in found[1:]])])
        ids, scores = self._ranked(_bm25(found[0]))
        return ids[:depth], scores[:depth]

    def retrieve(self, vector: np.ndarray | None, stems: Sequence[str] | None, depth: int,
                 filters: Filters, ordered: bool = True, articles: bool = True) -> Lists:
        """The lists asked at once, with the stems' IDF that the matching set and the page
        read next: a search waits for the slowest of these calls, not for their sum."""
        asks: dict[str, Callable[[], Any]] = {}
        if vector is not None:
            asks["semantic"] = lambda: self.semantic(vector, depth, filters)
        if stems is not None:
            asks["keyword"] = lambda: self.keyword(stems, depth, filters, ordered)
            if articles:
                asks["articles"] = lambda: self.article_keyword(stems, depth, filters)
            if stems:
                asks["idf"] = lambda: self.idf(list(dict.fromkeys(stems)))
        found = at_once(asks)
        found.pop("idf", None)
        return Lists(**found)

    def similar(self, vector: np.ndarray, bar: float, filters: Filters) -> Ranked:
        """A range search: every passage above bar, up to MATCH_DEPTH of them."""
        ids, scores = self._ranked(self._dense(vector, MATCH_DEPTH, filters, radius=bar,
                                               range_filter=2.0))
        return ids[scores > bar], scores[scores > bar]

    def holding(self, stem: str, filters: Filters) -> np.ndarray:
        return self.holding_each([stem], filters)[0]

    def holding_each(self, stems: list[str], filters: Filters) -> list[np.ndarray]:
        """For each stem, the articles (keys, ascending) whose text holds it: one search of
        the articles' BM25 for all, a question a stem (up to MATCH_DEPTH articles each)."""
        if not stems:
            return []
        with self._lock:
            held = self._held.get((tuple(stems), filters))
        if held is not None:
            return held
        found = self._search(self.articles_name, "words", [token(s) for s in stems],
                             MATCH_DEPTH, filter_expression(filters), _KEY, batch=True)
        return [np.sort(_bm25(hits).ids) for hits in found]

    def best_passages(self, keys: np.ndarray, vector: np.ndarray | None) -> Ranked:
        if not len(keys):
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        where = f"article in {[int(k) for k in keys]}" + (" and position == 0" if vector is None
                                                          else "")
        best: dict[int, tuple[float, int]] = {}  # article -> (-similarity, passage id)
        for row in self._query(self.passages_name, where, ["pid", "article", "vector"]):
            near = float(np.dot(row["vector"], vector[0])) if vector is not None else np.nan
            entry = (-near if near == near else 0.0, int(row["pid"]))
            best[int(row["article"])] = min(best.get(int(row["article"]), entry), entry)
        found = [best[int(k)] for k in keys]
        return (np.array([pid for _, pid in found], dtype=np.int64),
                np.array([np.nan if vector is None else -near for near, _ in found]))

    def lead_similarity(self, keys: np.ndarray, vector: np.ndarray) -> np.ndarray:
        """Computed by Milvus: a search of these articles' lead vectors (its scores are the
        inner products), not their vectors read (384 floats each, decoded in Python; 4 ms
        against 2 on milvus-lite 2.5.1); an article an approximate index did not return is
        read. But milvus-lite 3 filters a search row by row in Python (46 ms): there, read."""
        if not len(keys) or self._python_engine:
            return super().lead_similarity(keys, vector)
        hits = self._search(self.articles_name, "lead",
                            np.asarray(vector, np.float32).reshape(-1).tolist(), len(keys),
                            f"key in {[int(k) for k in keys]}", [], ef=max(len(keys), EF))
        found = dict(zip(hits.ids.tolist(), hits.scores.tolist()))
        if missing := [k for k in keys if int(k) not in found]:
            found.update(zip(missing, super().lead_similarity(np.array(missing), vector)))
        return np.array([found[int(k)] for k in keys], dtype=np.float64)

    @cached_property
    def _python_engine(self) -> bool:
        """Whether the server is milvus-lite 3, a Milvus in Python (it names itself so; Milvus'
        C++ servers give their version, or none: milvus-lite 2.5)."""
        try:
            return str(self.client.get_server_version()).startswith("milvus_lite")
        except Exception:  # noqa: BLE001 - milvus-lite 2.5 does not answer it
            return False

    def phrases(self, pairs: Sequence[str], articles: np.ndarray) -> Ranked:
        if not pairs or not len(articles):
            return self._ranked(Found.empty())
        keys, scores = self._ranked(_bm25(self._search(
            self.articles_name, "pairs", query_text(pairs), len(articles),
            f"key in {articles.tolist()}", _KEY)))
        order = np.argsort(keys)
        return keys[order], scores[order]

    def describe(self, ids: np.ndarray) -> Described:
        with self._lock:
            known = {int(i): self._seen.get(int(i)) for i in ids}
        missing = [i for i, row in known.items() if row is None]
        if missing:
            for row in self._query(self.passages_name, f"pid in {missing}", ["pid", *self._FOUND]):
                known[int(row["pid"])] = (row["article"], row["story"], row["day"],
                                          row["article_id"], row["copies"] > 0)
        rows = [known[int(i)] for i in ids]
        owners = np.array([r[0] for r in rows], dtype=np.int64)
        _, stories = np.unique(np.array([r[1] for r in rows], dtype=np.int64),
                               return_inverse=True)  # small codes, as the grouping wants
        days = np.array([np.nan if r[2] < 0 else r[2] for r in rows], dtype=np.float64)
        # The article id's place among these ids: equal ids rank equal, as the local index's.
        _, ties = np.unique(np.array([r[3] for r in rows], dtype=object), return_inverse=True)
        shared = np.array([r[4] for r in rows], dtype=bool)
        return Described(owners, stories.astype(np.int64), days, ties.astype(np.int64), shared)

    def keyword_scores(self, stems: Sequence[str], ids: Sequence[int]) -> np.ndarray:
        """Milvus' BM25 of these passages, one search among them alone."""
        ids = [int(i) for i in ids]
        if not stems or not ids:
            return np.zeros(len(ids))
        hits = _bm25(self._search(self.passages_name, "words", query_text(stems), len(ids),
                                  f"pid in {ids}", []))
        found = dict(zip(hits.ids.tolist(), hits.scores.tolist()))
        return np.array([found.get(i, 0.0) for i in ids], dtype=np.float64)

    def idf(self, stems: Sequence[str]) -> dict[str, float]:
        """From the terms collection (how many passages hold each), kept for the next asks."""
        with self._lock:
            known = {s: self._idf[s] for s in stems if s in self._idf}
        missing = sorted({s for s in stems if s not in known})
        if missing:
            held = {r["term"]: r["passages"] for r in self._query(
                self.terms_name, f"term in {sorted({term_number(s) for s in missing})}",
                ["term", "passages"])}
            n = self.manifest.passages
            found = {s: float(np.log(1 + (n - (h := held.get(term_number(s), 0)) + 0.5)
                                     / (h + 0.5))) for s in missing}
            self._keep(self._idf, found.items())
            known.update(found)
        return {s: known[s] for s in stems}
