"""A build served from Milvus collections: candidates, descriptions and articles, as the
local index gives them."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from indexer.articles import Article
from indexer.chunking import Layout, Passage
from indexer.dates import day_number
from indexer.errors import IndexNotFoundError, QueryError
from indexer.filters import Filters
from indexer.retrieval.backend import Build, Described, Ranked
from indexer.retrieval.milvus.client import (
    PROPERTY,
    SEEN,
    BackendUnavailableError,
    MilvusAddress,
    connect,
    filter_expression,
    guarded,
    pair_key,
    reason,
    served_collection,
    term_key,
)
from indexer.storage.manifest import Manifest

# Milvus returns at most this many hits a search (its topk limit): through Milvus, a matching
# set holds at most this many passages by meaning and articles by each word.
MATCH_DEPTH = 16_384


class MilvusBuild(Build):
    """One build in Milvus, opened. Articles are known by their row number in the build."""

    def __init__(self, client: Any, address: MilvusAddress, collection: str, model: str):
        self.client, self.address = client, address
        self.passages_name = collection
        base = collection.removesuffix("__passages")
        self.articles_name, self.texts_name, self.terms_name = (
            f"{base}__articles", f"{base}__texts", f"{base}__terms")
        self.name = f"{address}#{collection}"
        try:
            properties = client.describe_collection(collection).get("properties", {})
            held = json.loads(properties[PROPERTY])
        except Exception as exc:  # noqa: BLE001
            raise BackendUnavailableError(f"Milvus collection {collection} cannot be read "
                                          f"({reason(exc)}): rebuild it with `news-search "
                                          f"index PATH --backend {address}`") from None
        self.manifest = Manifest(**held["manifest"])
        self.manifest.check_model(model, Path(str(address)))
        self.sources = [tuple(pair) for pair in held["sources"]]
        self.languages = [tuple(pair) for pair in held.get("languages", [])]
        self.newest = float("nan") if held["newest"] is None else float(held["newest"])
        self.oldest = float("nan") if held["oldest"] is None else float(held["oldest"])
        self._lock = threading.Lock()
        self._seen: OrderedDict[int, tuple[int, int, int, str, bool]] = OrderedDict()
        try:
            self.load()
        except Exception as exc:  # noqa: BLE001
            raise BackendUnavailableError(f"Milvus at {address.uri} cannot load {collection} "
                                          f"({reason(exc)})") from None

    def load(self) -> None:
        """Have Milvus hold the build's collections in memory (it is a no-op when it does)."""
        for name in (self.passages_name, self.articles_name, self.texts_name, self.terms_name):
            self.client.load_collection(name)

    def _remember(self, hits: Sequence[Any]) -> None:
        with self._lock:
            for hit in hits:
                e = hit["entity"]
                self._seen[int(hit["pid"])] = (e["article"], e["story"], e["day"], e["article_id"],
                                               e["copies"] > 0)
            while len(self._seen) > SEEN:
                self._seen.popitem(last=False)

    _FOUND = ["article", "story", "day", "article_id", "copies"]

    @guarded("answer a health probe")
    def probe(self) -> None:
        self.client.query(self.passages_name, filter="pid >= 0", output_fields=["pid"], limit=1)

    def admits(self, filters: Filters) -> bool:
        if not filters:
            return True
        return bool(self._query(self.passages_name, filter_expression(filters), ["pid"], limit=1))

    @guarded("query")
    def _query(self, collection: str, expression: str, fields: list[str], limit: int | None = None
               ) -> list[dict]:
        return self.client.query(collection, filter=expression, output_fields=fields,
                                 **({"limit": limit} if limit else {}))

    @guarded("search")
    def _search(self, collection: str, field: str, data: Any, depth: int, expression: str,
                fields: list[str]) -> list[Any]:
        found = self.client.search(collection, data=[data], anns_field=field, limit=depth,
                                   filter=expression, output_fields=fields,
                                   search_params={"metric_type": "IP"})
        return list(found[0])

    def _sparse(self, collection: str, field: str, terms: dict[int, float], depth: int,
                expression: str, fields: list[str]) -> list[Any]:
        """The hits of a sparse (BM25) search that share a term with the query."""
        if not terms or depth <= 0:
            return []
        return [h for h in self._search(collection, field, terms, depth, expression, fields)
                if h["distance"] > 0]

    @staticmethod
    def _ranked(hits: Sequence[Any], key: str) -> Ranked:
        return (np.array([h[key] for h in hits], dtype=np.int64),
                np.array([h["distance"] for h in hits], dtype=np.float64))

    def semantic(self, vector: np.ndarray, depth: int, filters: Filters) -> Ranked:
        hits = self._search(
            self.passages_name,
            "vector",
            np.asarray(vector[0], np.float32).tolist(),
            depth,
            filter_expression(filters),
            self._FOUND,
        )
        self._remember(hits)
        return self._ranked(hits, "pid")

    def keyword(self, stems: Sequence[str], depth: int, filters: Filters,
                ordered: bool = True) -> Ranked:
        hits = self._sparse(self.passages_name, "words",
                            {term_key(s): 1.0 for s in dict.fromkeys(stems)}, depth,
                            filter_expression(filters), self._FOUND)
        self._remember(hits)
        return self._ranked(hits, "pid")

    def article_keyword(self, stems: Sequence[str], depth: int, filters: Filters) -> Ranked:
        return self._ranked(self._sparse(
            self.articles_name, "words", {term_key(s): 1.0 for s in dict.fromkeys(stems)},
            depth, filter_expression(filters), ["key"]), "key")

    def similar(self, vector: np.ndarray, bar: float, filters: Filters) -> Ranked:
        ids, scores = self.semantic(vector, MATCH_DEPTH, filters)
        return ids[scores > bar], scores[scores > bar]

    def holding(self, stem: str, filters: Filters) -> np.ndarray:
        keys, _ = self._ranked(self._sparse(self.articles_name, "words", {term_key(stem): 1.0},
                                            MATCH_DEPTH, filter_expression(filters), ["key"]),
                               "key")
        return np.sort(keys)

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

    def phrases(self, pairs: Sequence[str], articles: np.ndarray) -> Ranked:
        keys, scores = self._ranked(self._sparse(
            self.articles_name, "pairs", {pair_key(p): 1.0 for p in dict.fromkeys(pairs)},
            len(articles), f"key in {articles.tolist()}", ["key"]), "key")
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

    @guarded("read term statistics")
    def idf(self, stems: Sequence[str]) -> dict[str, float]:
        keys = {s: term_key(s) for s in stems}
        held = {row["term"]: row["passages"] for row in self.client.query(
            self.terms_name,
            filter=f"term in {sorted(set(keys.values()))}", output_fields=["term", "passages"])} \
            if keys else {}
        n = self.manifest.passages
        return {s: float(np.log(1 + (n - held.get(k, 0) + 0.5) / (held.get(k, 0) + 0.5)))
                for s, k in keys.items()}

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        rows = {int(r["pid"]): r["vector"] for r in self._query(
            self.passages_name, f"pid in {[int(i) for i in ids]}", ["pid", "vector"])}
        return np.array([rows[int(i)] for i in ids], dtype=np.float32)

    def lead_vectors(self, keys: np.ndarray) -> np.ndarray:
        rows = {int(r["article"]): r["vector"] for r in self._query(
            self.passages_name, f"article in {[int(k) for k in keys]} and position == 0",
            ["article", "vector"])}
        return np.array([rows[int(k)] for k in keys], dtype=np.float32).reshape(
            len(keys), self.manifest.dimension)

    def _articles(self, expression: str, text: bool = False) -> dict[int, Article]:
        rows = self._query(self.articles_name, expression,
                           ["key", "id", "title", "date", "source", "url", "origin", "language"])
        texts: dict[int, list[tuple[int, str]]] = {}
        if text and rows:
            for row in self._query(self.texts_name,
                                   f"article in {[int(r['key']) for r in rows]}",
                                   ["article", "part", "text"]):
                texts.setdefault(int(row["article"]), []).append((row["part"], row["text"]))
        return {int(r["key"]): Article(r["id"], r["title"],
                                       "".join(t for _, t in sorted(texts.get(int(r["key"]), []))),
                                       r["date"], r["source"], r["url"], r["origin"],
                                       r["language"])
                for r in rows}

    def passages(self, ids: Sequence[int] | set[int], layouts: dict[str, Layout] | None = None
                 ) -> dict[int, tuple[Passage, Article]]:
        # layouts: none are copied to Milvus yet: the page finds them in what it reads.
        ids = [int(i) for i in ids]
        if not ids:
            return {}
        rows = self._query(self.passages_name, f"pid in {ids}",
                           ["pid", "article", "position", "start", "end", "text"])
        articles = self._articles(f"key in {sorted({int(r['article']) for r in rows})}")
        found = {}
        for r in rows:
            article = articles[int(r["article"])]
            found[int(r["pid"])] = (Passage(article.id, r["position"], r["start"], r["end"],
                                            r["text"]), article)
        return found

    def story_copies(self, article_ids: Sequence[str]) -> dict[str, list[Article]]:
        """Three queries for all the articles, whatever their number: their stories, the
        stories' articles, and those articles."""
        ids = list(dict.fromkeys(article_ids))
        if not ids:
            return {}
        story_of = {r["id"]: r["story"] for r in self._query(
            self.articles_name, f"id in {json.dumps(ids)}", ["id", "story"])}
        if not story_of:
            return {}
        rows = self._query(self.articles_name, f"story in {sorted(set(story_of.values()))}",
                           ["key", "id", "date", "story"])
        found = self._articles(f"key in {[int(r['key']) for r in rows]}") if rows else {}
        by_story: dict[int, list[dict]] = {}
        for row in sorted(rows, key=lambda r: (r["date"], r["key"])):
            by_story.setdefault(row["story"], []).append(row)
        return {aid: copies for aid, story in story_of.items()
                if (copies := [found[int(r["key"])] for r in by_story.get(story, [])
                               if r["id"] != aid and int(r["key"]) in found])}

    @guarded("query")
    def story_days(self, filters: Filters) -> tuple[np.ndarray, np.ndarray]:
        expression = " and ".join(x for x in ("dated == true", filter_expression(filters)) if x)
        stories, days = [], []
        found = self.client.query_iterator(self.articles_name, filter=expression,
                                           output_fields=["story", "date"], batch_size=4096)
        try:
            while batch := found.next():
                stories.extend(int(r["story"]) for r in batch)
                days.extend(day_number(r["date"]) for r in batch)
        finally:
            found.close()
        days_ = np.array(days, dtype=np.float64)
        kept = ~np.isnan(days_)
        return np.array(stories, dtype=np.int64)[kept], days_[kept]

    def thread_stories(self, keys: np.ndarray) -> np.ndarray:
        return np.ones(len(keys), dtype=np.int64)  # threads are kept by the local index only

    def thread(self, article_id: str) -> list[tuple[Article, str, str]]:
        return []

    def check_entities(self, filters: Filters) -> Filters:
        if filters.entities:
            raise QueryError("entity filters need the local index: Milvus collections do not "
                             "hold entities yet")
        return filters

    def entity(self, name: str) -> tuple[str, str, list[tuple[str, int]], np.ndarray] | None:
        raise QueryError("entity pages need the local index: Milvus collections do not hold "
                         "entities yet")

    def article_days(self, keys: np.ndarray) -> np.ndarray:
        found = self._articles(f"key in {[int(k) for k in keys]}")
        return np.array([day_number(found[int(k)].date) if int(k) in found else np.nan
                         for k in keys], dtype=np.float64)

    def articles_by_key(self, keys: np.ndarray) -> list[Article]:
        found = self._articles(f"key in {[int(k) for k in keys]}")
        return [found[int(k)] for k in keys if int(k) in found]

    def entity_counts(self, keys: np.ndarray, top: int) -> list[tuple[str, str, int]]:
        return []

    def excerpts(self, spans: Sequence[tuple[str, int, int]]) -> list[str]:
        ids = sorted({article_id for article_id, _, _ in spans})
        texts = {a.id: a.text for a in self._articles(f"id in {json.dumps(ids)}",
                                                      text=True).values()}
        return [texts.get(article_id, "")[start:end] for article_id, start, end in spans]

    def article(self, article_id: str) -> Article | None:
        found = self._articles(f"id == {json.dumps(article_id)}", text=True)
        return next(iter(found.values()), None)

    def article_passages(self, article_id: str) -> list[tuple[int, Passage]]:
        rows = self._query(self.passages_name, f"article_id == {json.dumps(article_id)}",
                           ["pid", "position", "start", "end", "text"])
        return [(int(r["pid"]), Passage(article_id, r["position"], r["start"], r["end"],
                                        r["text"]))
                for r in sorted(rows, key=lambda r: r["position"])]

    @guarded("list passages")
    def passage_articles(self) -> dict[int, str]:
        found: dict[int, str] = {}
        iterator = self.client.query_iterator(self.passages_name, batch_size=1000, filter="",
                                              output_fields=["pid", "article_id"])
        while batch := iterator.next():
            found.update((int(r["pid"]), r["article_id"]) for r in batch)
        iterator.close()
        return found


class MilvusBackend:
    """The build an address serves, for a Searcher: its name, and the build opened."""

    def __init__(self, address: MilvusAddress, model: str):
        self.address, self.model = address, model
        self.client = connect(address)

    def current_name(self) -> str | None:
        return served_collection(self.client, self.address)

    @staticmethod
    def pointer_problem() -> str | None:
        return None  # an alias names a collection or nothing; open() says which

    def open_served(self) -> tuple[MilvusBuild, str | None]:
        return self.open(), None

    @staticmethod
    def name_of(build: MilvusBuild) -> str:
        return build.passages_name

    def open(self, name: str | None = None) -> MilvusBuild:
        name = name or self.current_name()
        if name is None:
            raise IndexNotFoundError(f"no index named {self.address.name} in Milvus at "
                                     f"{self.address.uri}: build one with `news-search index "
                                     f"PATH --backend {self.address}`")
        return MilvusBuild(self.client, self.address, name, self.model)


