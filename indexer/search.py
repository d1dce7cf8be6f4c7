"""Answering a question from an index folder: the Searcher and the Hit it returns."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .articles import Article
from .chunking import Passage
from .embedding import DEFAULT_MODEL, Embedder
from .errors import IndexCorruptError, QueryError
from .highlight import Highlights, highlight, query_stems
from .indexdir import current_build, current_name
from .manifest import Manifest
from .metadata import MetadataReader
from .store import FaissStore

MAX_QUERY_CHARS = 1000
MAX_K = 100
RELOAD_CHECK_SECONDS = 1.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hit:
    """One ranked passage with its article and why it matched."""

    rank: int
    score: float
    passage_id: int
    passage: Passage
    article: Article
    highlights: Highlights

    def to_dict(self) -> dict[str, Any]:
        """The hit as the JSON API returns it."""
        return {
            "rank": self.rank,
            "score": round(self.score, 4),
            "passage_id": self.passage_id,
            "text": self.passage.text,
            "position": self.passage.position,
            "offsets": [self.passage.start, self.passage.end],
            "article": self.article.to_dict(),
            "highlights": {
                "terms": [list(t) for t in self.highlights.terms],
                "sentence": list(self.highlights.sentence) if self.highlights.sentence else None,
            },
        }


@dataclass(frozen=True)
class SearchResult:
    """The hits for one query, and how long finding them took."""

    query: str
    k: int
    hits: list[Hit]
    took_ms: float

    def to_dict(self) -> dict[str, Any]:
        """The result as the JSON API returns it."""
        return {"query": self.query, "k": self.k, "took_ms": round(self.took_ms, 2),
                "results": [h.to_dict() for h in self.hits]}


def check_query(query: Any, k: Any = 10) -> tuple[str, int]:
    """The query stripped and k as an int; QueryError says what is wrong with either."""
    if not isinstance(query, str) or not query.strip():
        raise QueryError("the query is empty: type a question or some words to search for")
    query = query.strip()
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is {len(query)} characters long; the limit is {MAX_QUERY_CHARS}")
    if isinstance(k, bool):
        raise QueryError(f"k must be a whole number from 1 to {MAX_K}, got {k!r}")
    try:
        k = int(k)
    except (TypeError, ValueError):
        raise QueryError(f"k must be a whole number from 1 to {MAX_K}, got {k!r}") from None
    if not 1 <= k <= MAX_K:
        raise QueryError(f"k must be from 1 to {MAX_K}, got {k}")
    return query, k


_embedders: dict[str, Embedder] = {}
_embedders_lock = threading.Lock()


def get_embedder(model: str) -> Embedder:
    """The process's one loaded instance of a model."""
    with _embedders_lock:
        if model not in _embedders:
            _embedders[model] = Embedder(model)
        return _embedders[model]


class _Loaded:
    """One build of the index, opened."""

    def __init__(self, folder: Path, model: str):
        self.folder = folder
        self.manifest = Manifest.read(folder)
        self.manifest.check_model(model, folder)
        self.store = FaissStore.load(folder, self.manifest.dimension)
        self.meta = MetadataReader(folder)
        articles, passages = self.meta.counts()
        if (articles, passages) != (self.manifest.articles, self.manifest.passages) \
                or len(self.store) != passages:
            raise IndexCorruptError(
                f"index {folder} is inconsistent: manifest says {self.manifest.articles} articles"
                f" and {self.manifest.passages} passages, the database holds {articles} and "
                f"{passages}, the vectors {len(self.store)}: rebuild it with "
                "`news-search index PATH`")


class Searcher:
    """Searches the index that an index folder serves, following it when a rebuild swaps it."""

    def __init__(self, index_dir: Path, model: str = DEFAULT_MODEL,
                 embedder: Embedder | None = None):
        self.index_dir = Path(index_dir)
        self.model = model
        self._embedder = embedder
        self._lock = threading.Lock()
        self._loaded = _Loaded(current_build(self.index_dir), model)
        self._name = self._loaded.folder.name
        self._checked = time.monotonic()

    @property
    def embedder(self) -> Embedder:
        """The query model, loaded on first use."""
        if self._embedder is None:
            self._embedder = get_embedder(self.model)
        return self._embedder

    @property
    def manifest(self) -> Manifest:
        """The manifest of the build being served."""
        return self._current().manifest

    def _current(self) -> _Loaded:
        """The served build; a newer complete one is picked up, a broken one is logged and ignored."""
        now = time.monotonic()
        if now - self._checked >= RELOAD_CHECK_SECONDS:
            self._checked = now
            name = current_name(self.index_dir)
            if name and name != self._name:
                with self._lock:
                    if name != self._name:
                        self._name = name  # tried once, whether it loads or not
                        try:
                            self._loaded = _Loaded(current_build(self.index_dir), self.model)
                            log.info("now serving %s", self._loaded.folder)
                        except Exception as exc:  # keep serving the last good build
                            log.error("new index not loaded, still serving %s: %s",
                                      self._loaded.folder, exc)
        return self._loaded

    def search(self, query: str, k: int = 10) -> SearchResult:
        """The k passages closest in meaning to the query, best first."""
        query, k = check_query(query, k)
        started = time.perf_counter()
        loaded = self._current()
        vector = self.embedder.encode_query(query)
        scores, ids = loaded.store.search(vector, k)
        found = loaded.meta.passages(i for i in ids[0] if i >= 0)
        stems = query_stems(query)
        hits = []
        for score, pid in zip(scores[0], ids[0]):
            if pid < 0 or int(pid) not in found:
                continue
            passage, article = found[int(pid)]
            hits.append(Hit(len(hits) + 1, float(score), int(pid), passage, article,
                            highlight(passage.text, stems)))
        return SearchResult(query, k, hits, (time.perf_counter() - started) * 1000)

    def article(self, article_id: str) -> Article | None:
        """The whole article with this id, or None."""
        return self._current().meta.article(article_id)

    def health(self) -> dict[str, Any]:
        """What the served index holds and how it was built."""
        loaded = self._current()
        m = loaded.manifest
        return {"index": str(loaded.folder), "model": m.model, "dimension": m.dimension,
                "articles": m.articles, "passages": m.passages, "built_at": m.built_at,
                "store": m.store}
