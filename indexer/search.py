"""Answering a question from an index folder: the Searcher and the Hit it returns."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .articles import Article
from .chunking import Passage
from .embedding import DEFAULT_MODEL, Embedder
from .errors import IndexCorruptError, QueryError
from .fusion import reciprocal_rank_fusion
from .highlight import Highlights, highlight
from .indexdir import current_build, current_name
from .manifest import Manifest
from .metadata import MetadataReader
from .store import FaissStore
from .terms import query_stems, query_terms

MAX_QUERY_CHARS = 1000
MAX_K = 100
MODES = ("hybrid", "semantic", "keyword")
DEFAULT_MODE = "hybrid"
CANDIDATES = 100  # passages each retriever proposes to the fusion
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
    similarity: float | None = None  # cosine of question and passage (None in keyword mode)
    keyword_score: float | None = None  # BM25, when the passage matched the query's words

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
            "similarity": None if self.similarity is None else round(self.similarity, 4),
            "keyword_score": None if self.keyword_score is None else round(self.keyword_score, 4),
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
    mode: str
    hits: list[Hit]
    took_ms: float

    def to_dict(self) -> dict[str, Any]:
        """The result as the JSON API returns it."""
        return {"query": self.query, "k": self.k, "mode": self.mode,
                "took_ms": round(self.took_ms, 2),
                "results": [h.to_dict() for h in self.hits]}


def check_mode(mode: Any) -> str:
    """mode if it is one of MODES; QueryError otherwise."""
    if mode not in MODES:
        raise QueryError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


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

    def ranked(self, query: str, mode: str = DEFAULT_MODE, depth: int = CANDIDATES
               ) -> list[tuple[int, float, float | None, float | None]]:
        """(passage id, score, similarity, keyword score) best first, for a checked query.

        semantic: cosine similarity over the vectors; keyword: BM25 over the stemmed words;
        hybrid: reciprocal rank fusion of the two lists, each `depth` long.
        """
        return self._ranked(self._current(), query, mode, depth)

    def _ranked(self, loaded: _Loaded, query: str, mode: str, depth: int
                ) -> list[tuple[int, float, float | None, float | None]]:
        similarity: dict[int, float] = {}
        keyword: dict[int, float] = {}
        vector = None
        if mode != "keyword":
            vector = self.embedder.encode_query(query)
            scores, ids = loaded.store.search(vector, depth)
            similarity = {int(i): float(s) for s, i in zip(scores[0], ids[0]) if i >= 0}
        if mode != "semantic":
            keyword = dict(loaded.meta.keyword_search(query_terms(query), depth))
        if mode == "semantic":
            return [(pid, sim, sim, None) for pid, sim in similarity.items()]
        if mode == "keyword":
            return [(pid, bm25, None, bm25) for pid, bm25 in keyword.items()]
        fused = reciprocal_rank_fusion([list(similarity), list(keyword)])
        missing = [pid for pid, _ in fused if pid not in similarity]
        if missing and vector is not None:  # keyword-only finds: their similarity, for display
            sims = loaded.store.vectors(np.array(missing)) @ vector[0]
            similarity.update(zip(missing, map(float, sims)))
        return [(pid, score, similarity.get(pid), keyword.get(pid)) for pid, score in fused]

    def search(self, query: str, k: int = 10, mode: str = DEFAULT_MODE) -> SearchResult:
        """The k passages that best answer the query, best first."""
        query, k = check_query(query, k)
        mode = check_mode(mode)
        started = time.perf_counter()
        loaded = self._current()  # one build for the whole query, even if a swap happens now
        ranked = self._ranked(loaded, query, mode, max(CANDIDATES, k))[:k]
        found = loaded.meta.passages(pid for pid, *_ in ranked)
        stems = query_stems(query)
        hits = []
        for pid, score, similarity, keyword in ranked:
            if pid not in found:
                continue
            passage, article = found[pid]
            hits.append(Hit(len(hits) + 1, score, pid, passage, article,
                            highlight(passage.text, stems), similarity, keyword))
        return SearchResult(query, k, mode, hits, (time.perf_counter() - started) * 1000)

    def passage_articles(self) -> dict[int, str]:
        """Every passage id of the served index with its article's id."""
        return self._current().meta.passage_articles()

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
