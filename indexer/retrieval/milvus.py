"""The Milvus backend: an index held by a Milvus server (milvus-lite or Milvus Distributed).

A build is two collections, NAME__<stamp>__passages and NAME__<stamp>__articles (a third holds
articles' texts, which may outgrow a Milvus string), and the alias NAME names the passages
collection of the build served: it moves only once a build is complete, as CURRENT does for a
local index. Passages carry their vector, their BM25 weights as a sparse vector (computed by our
own analyser with bm25s, so keyword scores equal the local index's), their article's key,
story, day and outlet; articles carry their whole-text and phrase BM25 weights. Filters become
Milvus expressions. pymilvus is imported only here (the `cluster` extra).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from hashlib import blake2b
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from indexer.articles import Article
from indexer.retrieval.backend import Build, Described, Ranked
from indexer.chunking import Passage
from indexer.dates import day_number, passes_date_filters
from indexer.errors import IndexerError, IndexNotFoundError, QueryError
from indexer.filters import Filters
from indexer.storage.manifest import Manifest

SCHEME = "milvus://"
MAX_STRING = 16_000  # characters a string field holds (Milvus counts at most 65,535 bytes)
BATCH = 500  # rows an insert sends
KEEP_BUILDS = 2  # the build served and the one before it, as in a local index folder
PROPERTY = "news_search"  # the collection property holding the manifest and what it serves
SEEN = 20_000  # passages whose article, story and day are kept from the searches that found them
TERMS = 2**32 - 2  # Milvus sparse dimensions (below 2^32 - 1): term keys are hashed below TERMS
# A document with no term at all (a headline of stop words) still needs one nonzero weight: a
# dimension no term has, which no question holds.
EMPTY = {TERMS: 1e-30}
log = logging.getLogger(__name__)


class BackendUnavailableError(IndexerError):
    """The Milvus server cannot be reached or failed to answer (a 503 to the web's clients)."""


@dataclass(frozen=True)
class MilvusAddress:
    """Where an index lives in Milvus: milvus://HOST:PORT/NAME."""

    host: str
    port: int
    name: str

    @classmethod
    def parse(cls, text: str) -> MilvusAddress:
        """The address written as milvus://HOST:PORT/NAME; an IndexerError says what is wrong."""
        found = re.fullmatch(r"milvus://([^/:]+|\[[0-9a-fA-F:]+\]):(\d{1,5})/([A-Za-z_][A-Za-z0-9_]{0,100})",
                             text.strip())
        if not found:
            raise IndexerError(f"backend {text!r} is not of the form milvus://HOST:PORT/NAME "
                               "(NAME: letters, digits and _, starting with a letter)")
        return cls(found[1], int(found[2]), found[3])

    @property
    def uri(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __str__(self) -> str:
        return f"milvus://{self.host}:{self.port}/{self.name}"


def is_milvus(backend: str | None) -> bool:
    """Whether a --backend value names Milvus (anything else is refused by MilvusAddress)."""
    return bool(backend) and backend.strip().lower().startswith(SCHEME)


def connect(address: MilvusAddress) -> Any:
    """A MilvusClient for the address; BackendUnavailableError if the server does not answer."""
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise IndexerError("the Milvus backend needs the cluster extra: pip install -e "
                           "\".[cluster]\"") from None
    # pymilvus logs every failed call with its traceback (an alias not made yet, say); the
    # errors it raises say the same, and ours name what to do. Set once it is imported.
    for name in ("pymilvus", "pymilvus.decorators"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        return MilvusClient(uri=address.uri, timeout=10)
    except Exception as exc:  # noqa: BLE001 - pymilvus raises several kinds
        raise BackendUnavailableError(f"cannot reach Milvus at {address.uri} ({_reason(exc)}): "
                                      "start it, or check --backend") from None


def _reason(exc: Exception) -> str:
    return " ".join(str(getattr(exc, "message", None) or exc).split())[:300]


def term_key(term: str) -> int:
    """A word's sparse dimension: 32 bits of its BLAKE2b digest (stable across processes)."""
    return int.from_bytes(blake2b(term.encode(), digest_size=4).digest(), "little") % TERMS


def pair_key(pair: str) -> int:
    """A phrase's sparse dimension: its 64-bit key in the local phrase index, folded."""
    from indexer.storage.keywords import _keys
    return int(_keys([pair])[0] % np.uint64(TERMS))


def _day(date: str) -> int:
    day = day_number(date)
    return -1 if day != day else int(day)


def _clip(text: str) -> str:
    return text[:MAX_STRING]


def _quoted(values: Iterable[str]) -> str:
    return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"


def filter_expression(filters: Filters) -> str:
    """The Milvus expression for filters, on fields both collections have ("" for none)."""
    parts = []
    if filters.since or filters.until:
        parts.append("dated == true")  # a date kept as written never passes a date filter
    if filters.since:
        parts.append(f"date >= {json.dumps(filters.since)}")
    if filters.until:
        parts.append(f"date <= {json.dumps(filters.until + '~')}")  # the whole last day is in
    if filters.sources:
        parts.append(f"source_key in {_quoted(s.lower() for s in filters.sources)}")
    if filters.languages:
        parts.append(f"language in {_quoted(filters.languages)}")
    return " and ".join(parts)


def _guarded(what: str):
    """Decorator: a Milvus call that fails is tried once more after loading the build's
    collections again (a restarted server holds them released); a second failure becomes a
    BackendUnavailableError naming `what`."""
    def wrap(method):
        def guarded(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except IndexerError:
                raise
            except Exception:  # noqa: BLE001 - grpc and pymilvus errors alike
                pass
            try:
                self.load()
                return method(self, *args, **kwargs)
            except IndexerError:
                raise
            except Exception as exc:  # noqa: BLE001
                raise BackendUnavailableError(
                    f"Milvus at {self.address.uri} failed to {what} ({_reason(exc)})") from None
        guarded.__name__, guarded.__doc__ = method.__name__, method.__doc__
        return guarded
    return wrap


def served_collection(client: Any, address: MilvusAddress) -> str | None:
    """The passages collection the address's alias names, or None if there is none."""
    try:
        return client.describe_alias(address.name)["collection_name"]
    except Exception as exc:  # noqa: BLE001
        if "not found" in str(exc).lower() or "not exist" in str(exc).lower():
            return None
        raise BackendUnavailableError(f"Milvus at {address.uri} failed to name the collection "
                                      f"served ({_reason(exc)})") from None


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
                                          f"({_reason(exc)}): rebuild it with `news-search "
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
                                          f"({_reason(exc)})") from None

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

    def admits(self, filters: Filters) -> bool:
        if not filters:
            return True
        return bool(self._query(self.passages_name, filter_expression(filters), ["pid"], limit=1))

    @_guarded("query")
    def _query(self, collection: str, expression: str, fields: list[str], limit: int | None = None
               ) -> list[dict]:
        return self.client.query(collection, filter=expression, output_fields=fields,
                                 **({"limit": limit} if limit else {}))

    @_guarded("search")
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
        hits = self._search(self.passages_name, "vector", np.asarray(vector[0], np.float32).tolist(),
                            depth, filter_expression(filters), self._FOUND)
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

    @_guarded("read term statistics")
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

    def passages(self, ids: Sequence[int] | set[int]) -> dict[int, tuple[Passage, Article]]:
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

    def story_copies(self, article_id: str) -> list[Article]:
        mine = self._query(self.articles_name, f"id == {json.dumps(article_id)}", ["story"])
        if not mine:
            return []
        rows = self._query(self.articles_name, f"story == {mine[0]['story']} and "
                           f"id != {json.dumps(article_id)}", ["key", "date"])
        found = self._articles(f"key in {[int(r['key']) for r in rows]}") if rows else {}
        order = sorted(rows, key=lambda r: (r["date"], r["key"]))
        return [found[int(r["key"])] for r in order]

    @_guarded("query")
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

    def check_entities(self, filters: Filters) -> None:
        if filters.entities:
            raise QueryError("entity filters need the local index: Milvus collections do not "
                             "hold entities yet")

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

    @_guarded("list passages")
    def passage_articles(self) -> dict[int, str]:
        found: dict[int, str] = {}
        iterator = self.client.query_iterator(self.passages_name, batch_size=1000, filter="",
                                              output_fields=["pid", "article_id"])
        while batch := iterator.next():
            found.update((int(r["pid"]), r["article_id"]) for r in batch)
        iterator.close()
        return found


class MilvusSource:
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


# Writing a build


def _schemas(client: Any, dimension: int) -> dict[str, tuple[Any, Any]]:
    from pymilvus import DataType

    def text(schema, name, length=MAX_STRING * 4):
        schema.add_field(name, DataType.VARCHAR, max_length=length)

    passages = client.create_schema(auto_id=False, enable_dynamic_field=False)
    passages.add_field("pid", DataType.INT64, is_primary=True)
    passages.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
    passages.add_field("words", DataType.SPARSE_FLOAT_VECTOR)
    for name in ("article", "story", "day", "position", "start", "end", "copies"):
        passages.add_field(name, DataType.INT64)
    passages.add_field("dated", DataType.BOOL)
    for name in ("article_id", "date", "source_key", "language", "text"):
        text(passages, name)
    p_index = client.prepare_index_params()
    p_index.add_index("vector", index_type="FLAT", metric_type="IP")
    p_index.add_index("words", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")

    articles = client.create_schema(auto_id=False, enable_dynamic_field=False)
    articles.add_field("key", DataType.INT64, is_primary=True)
    articles.add_field("words", DataType.SPARSE_FLOAT_VECTOR)
    articles.add_field("pairs", DataType.SPARSE_FLOAT_VECTOR)
    articles.add_field("story", DataType.INT64)
    articles.add_field("dated", DataType.BOOL)
    for name in ("id", "title", "date", "source", "source_key", "url", "origin", "content_hash",
                 "language"):
        text(articles, name)
    a_index = client.prepare_index_params()
    a_index.add_index("words", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    a_index.add_index("pairs", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")

    texts = client.create_schema(auto_id=True, enable_dynamic_field=False)
    texts.add_field("row", DataType.INT64, is_primary=True)
    texts.add_field("article", DataType.INT64)
    texts.add_field("part", DataType.INT64)
    texts.add_field("placeholder", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants one vector
    text(texts, "text")
    t_index = client.prepare_index_params()
    t_index.add_index("placeholder", index_type="FLAT", metric_type="IP")

    terms = client.create_schema(auto_id=False, enable_dynamic_field=False)
    terms.add_field("term", DataType.INT64, is_primary=True)
    terms.add_field("passages", DataType.INT64)
    terms.add_field("placeholder", DataType.FLOAT_VECTOR, dim=2)
    r_index = client.prepare_index_params()
    r_index.add_index("placeholder", index_type="FLAT", metric_type="IP")
    return {"passages": (passages, p_index), "articles": (articles, a_index),
            "texts": (texts, t_index), "terms": (terms, r_index)}


def _by_document(ids: np.ndarray, data: Any, indices: Any, indptr: Any, keys: np.ndarray
                 ) -> dict[int, dict[int, float]]:
    """Each document's {term key: BM25 weight}, by document id, from column-major weights
    (column c: documents indices[indptr[c]:indptr[c+1]]) whose columns have these keys;
    columns that share a key are added, as the query's one dimension would add them."""
    from scipy.sparse import csc_matrix

    columns = len(indptr) - 1
    rows = csc_matrix((np.asarray(data), np.asarray(indices), np.asarray(indptr)),
                      shape=(len(ids), columns)).tocsr()
    out: dict[int, dict[int, float]] = {}
    for i, doc in enumerate(ids.tolist()):
        start, end = rows.indptr[i], rows.indptr[i + 1]
        weights: dict[int, float] = {}
        for key, value in zip(keys[rows.indices[start:end]].tolist(),
                              rows.data[start:end].tolist()):
            weights[key] = weights.get(key, 0.0) + value
        out[doc] = weights
    return out


def _term_weights(index: Any) -> dict[int, dict[int, float]]:
    """Each document's {term key: BM25 weight} of a bm25s keyword index, by document id."""
    if index.retriever is None:
        return {}
    scores = index.retriever.scores
    columns = len(scores["indptr"]) - 1
    keys = np.zeros(columns, dtype=np.int64)
    for term, column in index.retriever.vocab_dict.items():
        if column < columns:  # bm25s's own empty token has no column
            keys[column] = term_key(term)
    return _by_document(index.ids, scores["data"], scores["indices"], scores["indptr"], keys)


def upload(folder: Path, address: MilvusAddress, progress: bool = False) -> str:
    """Copy a complete local build folder (flat vectors) into new Milvus collections, then move
    the alias to them: the build served before keeps serving until then, and a failure leaves it
    served. The passages collection's name."""
    from indexer.storage.keywords import load_keyword_indexes
    from indexer.retrieval.local import LocalBuild
    from indexer.progress import progress_bar

    client = connect(address)
    build = LocalBuild(folder, Manifest.read(folder).model)
    stamp = time.strftime("%Y%m%dT%H%M%S") + f"{time.time_ns() % 1_000_000_000:09d}"
    base = f"{address.name}__{stamp}"
    names = {kind: f"{base}__{kind}" for kind in ("passages", "articles", "texts", "terms")}
    try:
        for kind, (schema, index) in _schemas(client, build.manifest.dimension).items():
            client.create_collection(names[kind], schema=schema, index_params=index)
        words, article_words, phrases = load_keyword_indexes(folder)
        conn = build.meta._conn()
        language = "language" if build.meta._has_languages() else "''"
        articles = conn.execute(
            "SELECT rowid, id, title, text, date, source, url, origin, content_hash, story, "
            f"{language} FROM articles").fetchall()
        key_of = {row[1]: row[0] for row in articles}
        story_of = {row[0]: key_of.get(row[9], row[0]) for row in articles}
        story_size: dict[int, int] = {}
        for key in story_of.values():
            story_size[key] = story_size.get(key, 0) + 1
        article_weights = _term_weights(article_words)
        pair_weights = _phrase_weights(phrases)
        rows, texts = [], []
        for rowid, aid, title, text, date, source, url, origin, chash, story, lang in articles:
            rows.append({"key": rowid, "id": aid, "title": _clip(title), "date": _clip(date),
                         "language": lang,
                         "source": _clip(source), "source_key": _clip(source.lower()),
                         "url": _clip(url), "origin": _clip(origin), "content_hash": chash,
                         "story": story_of[rowid], "dated": passes_date_filters(date),
                         "words": article_weights.get(rowid) or EMPTY,
                         "pairs": pair_weights.get(rowid) or EMPTY})
            texts.extend({"article": rowid, "part": part, "text": text[at:at + MAX_STRING],
                          "placeholder": [0.0, 0.0]}
                         for part, at in enumerate(range(0, max(len(text), 1), MAX_STRING)))
        _insert(client, names["articles"], rows)
        _insert(client, names["texts"], texts)
        passage_weights = _term_weights(words)
        held: dict[int, int] = {}
        for weights in passage_weights.values():
            for key in weights:
                held[key] = held.get(key, 0) + 1
        _insert(client, names["terms"], [{"term": k, "passages": n, "placeholder": [0.0, 0.0]}
                                         for k, n in held.items()])
        dates = {row[0]: row[4] for row in articles}
        sources = {row[0]: row[5] for row in articles}
        languages = {row[0]: row[10] for row in articles}
        ids = {row[0]: row[1] for row in articles}
        passages = conn.execute('SELECT id, article_rowid, position, start, "end", text'
                                " FROM passages ORDER BY id").fetchall()
        bar = progress_bar(total=len(passages), desc="Passages to Milvus", unit=" passages",
                           disable=not progress, leave=False)
        for at in range(0, len(passages), BATCH):
            block = passages[at:at + BATCH]
            vectors = build.vectors(np.array([p[0] for p in block], dtype=np.int64))
            _insert(client, names["passages"], [
                {"pid": pid, "vector": vector.tolist(),
                 "words": passage_weights.get(pid) or EMPTY, "article": rowid,
                 "story": story_of[rowid], "day": _day(dates[rowid]), "position": position,
                 "start": start, "end": end, "copies": story_size[story_of[rowid]] - 1,
                 "dated": passes_date_filters(dates[rowid]), "article_id": ids[rowid],
                 "date": _clip(dates[rowid]), "source_key": _clip(sources[rowid].lower()),
                 "language": languages[rowid],
                 "text": _clip(text)}
                for (pid, rowid, position, start, end, text), vector in zip(block, vectors)])
            bar.update(len(block))
        bar.close()
        held_manifest = {"manifest": asdict(build.manifest), "sources": build.sources,
                         "languages": build.languages,
                         "newest": None if build.newest != build.newest else build.newest,
                         "oldest": None if build.oldest != build.oldest else build.oldest}
        client.alter_collection_properties(names["passages"],
                                           properties={PROPERTY: json.dumps(held_manifest)})
        for name in names.values():
            client.flush(name)
            client.load_collection(name)
        _move_alias(client, address, names["passages"])
    except IndexerError:
        _drop(client, names.values())
        raise
    except BaseException as exc:
        _drop(client, names.values())
        if isinstance(exc, Exception):
            raise BackendUnavailableError(f"writing to Milvus at {address.uri} failed "
                                          f"({_reason(exc)}); the index served is unchanged") from None
        raise
    _drop_old_builds(client, address)
    return names["passages"]


def _phrase_weights(phrases: Any) -> dict[int, dict[int, float]]:
    """Each article's {phrase key: BM25 weight} of the phrase index, by article key."""
    if not len(phrases.keys):
        return {}
    keys = np.zeros(len(phrases.indptr) - 1, dtype=np.int64)
    keys[np.asarray(phrases.columns)] = (np.asarray(phrases.keys)
                                         % np.uint64(TERMS)).astype(np.int64)
    return _by_document(phrases.ids, phrases.data, phrases.indices, phrases.indptr, keys)


def _insert(client: Any, collection: str, rows: list[dict]) -> None:
    for at in range(0, len(rows), BATCH):
        client.insert(collection, rows[at:at + BATCH])


def _move_alias(client: Any, address: MilvusAddress, collection: str) -> None:
    if served_collection(client, address) is None:
        client.create_alias(collection, address.name)
    else:
        client.alter_alias(collection, address.name)


def _drop(client: Any, names: Iterable[str]) -> None:
    for name in names:
        try:
            client.drop_collection(name)
        except Exception:  # noqa: BLE001, S110 - best effort: a half-made build is unnamed
            pass


def _drop_old_builds(client: Any, address: MilvusAddress) -> None:
    """Drop the builds of this name but the newest KEEP_BUILDS (the served one is the newest)."""
    prefix = f"{address.name}__"
    stamps = sorted({n[len(prefix):].split("__")[0] for n in client.list_collections()
                     if n.startswith(prefix)}, reverse=True)
    for stamp in stamps[KEEP_BUILDS:]:
        _drop(client, [f"{prefix}{stamp}__{kind}"
                       for kind in ("passages", "articles", "texts", "terms")])
