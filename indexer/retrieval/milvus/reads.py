"""A build in Milvus, opened: what it is (its manifest, outlets, languages), and the reads of
passages and articles by id that a page, an article and a timeline make."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from indexer.articles import Article
from indexer.chunking import Layout, Passage
from indexer.errors import QueryError
from indexer.filters import Filters
from indexer.retrieval.backend import Build
from indexer.retrieval.milvus import columns
from indexer.retrieval.milvus.client import (
    SEEN,
    BackendUnavailableError,
    MilvusAddress,
    filter_expression,
    guarded,
    literal,
    reason,
)
from indexer.retrieval.milvus.registry import held, served_collection
from indexer.storage.manifest import Manifest

KEPT = 4_096  # stems' IDF and passages' vectors kept from earlier reads
HELD = 8  # questions whose articles holding each stem are kept (a search reads them twice)


class Recent:
    """What reads said, kept for the next look-ups: the last `limit` to 2 * `limit` entries
    put, in two generations, the older dropped when the newer fills. An entry put again is new
    again, so what one search put outlives it (with one least-recent order, the entries a search
    found again kept their old place and went first, while its range search filled the rest)."""

    def __init__(self, limit: int):
        self.limit, self.new, self.old = limit, {}, {}

    def update(self, items: Iterable[tuple]) -> None:
        self.new.update(items)
        if len(self.new) > self.limit:
            self.old, self.new = self.new, {}

    def get(self, key: Any, default: Any = None) -> Any:
        found = self.new.get(key, self)
        return self.old.get(key, default) if found is self else found

    def __contains__(self, key: Any) -> bool:
        return key in self.new or key in self.old

    def __getitem__(self, key: Any) -> Any:
        return self.new[key] if key in self.new else self.old[key]


# What a page shows of a passage and its article, all on the passage's row.
_SHOWN = ["pid", "article", "position", "start", "end", "text", "article_id", "title", "date",
          "source", "url", "origin", "language", "vector"]
_ARTICLE = ["key", "id", "title", "date", "source", "url", "origin", "language"]


class MilvusReads(Build):
    """One build in Milvus, opened, and its reads by id (search.MilvusBuild adds the searches).
    Articles are known by their keys (a local build's row ids, or a cluster build's)."""

    def __init__(self, client: Any, address: MilvusAddress, collection: str, model: str):
        self.client, self.address = client, address
        self.passages_name = collection
        base = collection.removesuffix("__passages")
        self.articles_name, self.texts_name, self.terms_name = (
            f"{base}__articles", f"{base}__texts", f"{base}__terms")
        self.name = f"{address}#{collection}"
        try:
            about = held(client, collection)
        except Exception as exc:  # noqa: BLE001
            raise BackendUnavailableError(f"Milvus collection {collection} cannot be read "
                                          f"({reason(exc)}): rebuild it with `news-search "
                                          f"index PATH --backend {address}`") from None
        self.manifest = Manifest(**about["manifest"])
        self.manifest.check_model(model, Path(str(address)))
        self.generation = f"{collection}@{self.manifest.built_at}"
        self.sources = [tuple(pair) for pair in about["sources"]]
        self.languages = [tuple(pair) for pair in about.get("languages", [])]
        self.newest = float("nan") if about["newest"] is None else float(about["newest"])
        self.oldest = float("nan") if about["oldest"] is None else float(about["oldest"])
        self._lock = threading.Lock()
        # What searches and reads said, kept for the next look-ups.
        self._seen = Recent(SEEN)  # passage id -> (article, story, day, article id, copies?)
        self._story_of = Recent(SEEN)  # article id -> story
        self._key_of = Recent(SEEN)  # article id -> key
        self._idf = Recent(KEPT)  # stem -> IDF
        self._vectors = Recent(KEPT)  # passage id -> vector
        self._held = Recent(HELD)  # (stems, filters) -> the articles holding each stem
        try:
            self.load()
        except Exception as exc:  # noqa: BLE001
            raise BackendUnavailableError(f"Milvus at {address.uri} cannot load {collection} "
                                          f"({reason(exc)})") from None

    def load(self) -> None:
        """Have Milvus hold the build's collections in memory (a no-op when it does); refused
        for a build no longer served (rebuilt meanwhile: it is released, and stays so)."""
        if hasattr(self, "_seen") and \
                served_collection(self.client, self.address) != self.passages_name:
            raise BackendUnavailableError(f"{self.address} was rebuilt while answering: ask "
                                          "again")
        for name in (self.passages_name, self.articles_name, self.texts_name, self.terms_name):
            self.client.load_collection(name)

    def _keep(self, cache: Recent, items: Iterable[tuple]) -> None:
        with self._lock:
            cache.update(items)

    @guarded("answer a health probe")
    def probe(self) -> None:
        self.client.query(self.passages_name, filter="pid >= 0", output_fields=["pid"], limit=1)

    @guarded("query")
    def _query(self, collection: str, expression: str, fields: list[str], limit: int | None = None
               ) -> list[dict]:
        return columns.query(self.client, collection, expression, fields, limit)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        with self._lock:
            rows = {int(i): self._vectors[int(i)] for i in ids if int(i) in self._vectors}
        missing = [int(i) for i in ids if int(i) not in rows]
        if missing:
            rows.update((int(r["pid"]), r["vector"]) for r in self._query(
                self.passages_name, f"pid in {missing}", ["pid", "vector"]))
        return np.array([rows[int(i)] for i in ids], dtype=np.float32).reshape(
            len(ids), self.manifest.dimension)

    def lead_vectors(self, keys: np.ndarray) -> np.ndarray:
        rows = {int(r["key"]): r["lead"] for r in self._query(
            self.articles_name, f"key in {[int(k) for k in keys]}", ["key", "lead"])}
        return np.array([rows[int(k)] for k in keys], dtype=np.float32).reshape(
            len(keys), self.manifest.dimension)

    def _texts(self, keys: Iterable[int]) -> dict[int, str]:
        """The whole text of each article (by key) that has one: one query."""
        parts: dict[int, list[tuple[int, str]]] = {}
        keys = sorted({int(k) for k in keys})
        for row in self._query(self.texts_name, f"article in {keys}", ["article", "part", "text"]
                               ) if keys else []:
            parts.setdefault(int(row["article"]), []).append((row["part"], row["text"]))
        return {key: "".join(text for _, text in sorted(found)) for key, found in parts.items()}

    def _articles(self, expression: str, text: bool = False) -> dict[int, Article]:
        rows = self._query(self.articles_name, expression, _ARTICLE)
        texts = self._texts(int(r["key"]) for r in rows) if text else {}
        return {int(r["key"]): _article(r, texts.get(int(r["key"]), "")) for r in rows}

    def passages(self, ids: Sequence[int] | set[int], layouts: dict[str, Layout] | None = None,
                 openings: Sequence[int] = ()) -> dict[int, tuple[Passage, Article]]:
        """One query: a passage's row holds what a page shows of its article, and its vector
        (kept for vectors()); the openings' rows in the same query."""
        # layouts: none are copied to Milvus yet: the page finds them in what it reads.
        ids = [int(i) for i in ids]
        keys = sorted({int(k) for k in openings})
        if not ids and not keys:
            return {}
        where = " or ".join([f"pid in {ids}"] * bool(ids) +
                            [f"(article in {keys} and position == 0)"] * bool(keys))
        rows = self._query(self.passages_name, where, _SHOWN)
        self._keep(self._vectors, ((int(r["pid"]), r["vector"]) for r in rows))
        self._keep(self._key_of, ((r["article_id"], int(r["article"])) for r in rows))
        found = {}
        for r in rows:
            article = _article(r | {"id": r["article_id"]}, "")
            found[int(r["pid"])] = (Passage(article.id, r["position"], r["start"], r["end"],
                                            r["text"]), article)
        return found

    def story_copies(self, article_ids: Sequence[str]) -> dict[str, list[Article]]:
        """One query for all the articles (their stories are known from the searches that
        found them; two for those that are not)."""
        ids = list(dict.fromkeys(article_ids))
        with self._lock:
            story_of = {aid: self._story_of[aid] for aid in ids if aid in self._story_of}
        missing = [aid for aid in ids if aid not in story_of]
        if missing:
            story_of.update((r["id"], r["story"]) for r in self._query(
                self.articles_name, f"id in {literal(missing)}", ["id", "story"]))
        if not story_of:
            return {}
        rows = self._query(self.articles_name, f"story in {sorted(set(story_of.values()))}",
                           [*_ARTICLE, "story"])
        by_story: dict[int, list[dict]] = {}
        for row in sorted(rows, key=lambda r: (r["date"], r["id"])):  # as the local index
            by_story.setdefault(row["story"], []).append(row)
        return {aid: copies for aid, story in story_of.items()
                if (copies := [_article(r, "") for r in by_story.get(story, [])
                               if r["id"] != aid])}

    @guarded("query")
    def story_days(self, filters: Filters) -> tuple[np.ndarray, np.ndarray]:
        expression = " and ".join(x for x in ("day >= 0", filter_expression(filters)) if x)
        stories, days = [], []
        found = self.client.query_iterator(self.articles_name, filter=expression,
                                           output_fields=["story", "day"], batch_size=4096)
        try:
            while batch := found.next():
                stories.extend(int(r["story"]) for r in batch)
                days.extend(int(r["day"]) for r in batch)
        finally:
            found.close()
        return np.array(stories, dtype=np.int64), np.array(days, dtype=np.float64)

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
        found = {int(r["key"]): r["day"] for r in self._query(
            self.articles_name, f"key in {[int(k) for k in keys]}", ["key", "day"])}
        days = np.array([found.get(int(k), -1) for k in keys], dtype=np.float64)
        days[days < 0] = np.nan
        return days

    def articles_by_key(self, keys: np.ndarray) -> list[Article]:
        found = self._articles(f"key in {[int(k) for k in keys]}")
        return [found[int(k)] for k in keys if int(k) in found]

    def entity_counts(self, keys: np.ndarray, top: int) -> list[tuple[str, str, int]]:
        return []

    def excerpts(self, spans: Sequence[tuple[str, int, int]]) -> list[str]:
        """One query for the articles whose keys the page's reads gave (two for the others)."""
        ids = sorted({article_id for article_id, _, _ in spans})
        with self._lock:
            keys = {aid: self._key_of[aid] for aid in ids if aid in self._key_of}
        found = self._texts(keys.values())
        texts = {aid: found.get(key, "") for aid, key in keys.items()}
        if missing := [aid for aid in ids if aid not in keys]:
            texts.update((a.id, a.text) for a in self._articles(f"id in {literal(missing)}",
                                                                text=True).values())
        return [texts.get(article_id, "")[start:end] for article_id, start, end in spans]

    def article(self, article_id: str) -> Article | None:
        found = self._articles(f"id == {literal(article_id)}", text=True)
        return next(iter(found.values()), None)

    def article_passages(self, article_id: str) -> list[tuple[int, Passage]]:
        rows = self._query(self.passages_name, f"article_id == {literal(article_id)}",
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

def _article(row: dict, text: str) -> Article:
    return Article(row["id"], row["title"], text, row["date"], row["source"], row["url"],
                   row["origin"], row["language"])
