"""Answering a question from an index folder: the Searcher, following the build it serves."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any, Callable, Sequence

import faiss
import numpy as np

from indexer.articles import Article
from indexer.chunking import Passage
from indexer.embedding.embedder import DEFAULT_MODEL, Embedder, get_embedder
from indexer.errors import QueryError
from indexer.filters import Filters, make_filters
from indexer.query import parse
from indexer.retrieval.backend import Build
from indexer.retrieval.factory import open_backend
from indexer.retrieval.local import first_places
from indexer.search.checks import (
    CANDIDATES,
    DEFAULT_MODE,
    EVAL_MODES,
    FACETS_SHOWN,
    MAX_COMPARED,
    POOL_CACHE,
    RELOAD_CHECK_SECONDS,
    check_group,
    check_mode,
    check_page,
    check_query,
    check_recency,
    check_sort,
    check_stories,
    log,
)
from indexer.search.entity import EntityView, entity_view
from indexer.search.facets import count_facets
from indexer.search.fusion import HYBRID, KEYWORD, reciprocal_rank_fusion
from indexer.search.matching import matching_pool
from indexer.search.page import explain_by_meaning, page_hits
from indexer.search.ranking import (Pool, boost_recent, constrained, convex, resolved,
                                     result_heads)
from indexer.search.results import Facets, Hit, SearchResult, ThreadStory
from indexer.search.thread import thread_stories
from indexer.search.timeline import Timeline, check_interval, count_together
from indexer.storage.manifest import Manifest
from indexer.terms import analyse, phrases


class Searcher:
    """Searches the index that an index folder (or a name in Milvus) serves, following it when a
    rebuild swaps it."""

    def __init__(self, index_dir: Path, model: str | None = None,
                 embedder: Embedder | None = None, backend: str | None = None):
        self.index_dir = Path(index_dir)
        # The model named, else the embedder's given, else the default.
        self.model = model or (embedder.name if embedder is not None else DEFAULT_MODEL)
        self._embedder = embedder
        self._lock = threading.Lock()
        self._pools: OrderedDict = OrderedDict()
        self._vectors: OrderedDict = OrderedDict()
        # One query is too little work for OpenMP's start-up to pay (2.4 ms on one thread, 5.4
        # on two). Process-wide, so set where queries are served, not where indexes are built.
        faiss.omp_set_num_threads(1)
        self._backend = open_backend(self.index_dir, self.model, backend)
        self._loaded, self.problem = self._backend.open_served()
        self._name = self._backend.current_name() or self._backend.name_of(self._loaded)
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

    def _current(self) -> Build:
        """The served build; a newer complete one is picked up, a broken one logged and ignored."""
        now = time.monotonic()
        if now - self._checked >= RELOAD_CHECK_SECONDS:
            self._checked = now
            name = self._backend.current_name()
            if name is None and self._name is not None:
                problem = self._backend.pointer_problem()
                if problem:  # CURRENT damaged: keep serving what is loaded
                    self._name = None
                    self.problem = f"{problem}; still serving {self._backend.name_of(self._loaded)}"
                    log.error("%s", self.problem)
            if name and name != self._name:
                with self._lock:
                    if name != self._name:
                        self._name = name  # tried once, whether it loads or not
                        if name == self._backend.name_of(self._loaded):  # CURRENT mended
                            self.problem = None
                            return self._loaded
                        try:
                            self._loaded = self._backend.open(name)
                            self.problem = None
                            log.info("now serving %s", self._loaded.name)
                        except Exception as exc:  # keep serving the last good build
                            self.problem = (f"the build {name} did not load ({exc}); still "
                                            f"serving {self._backend.name_of(self._loaded)}")
                            log.error("new index not loaded: %s", self.problem)
        return self._loaded

    def _query_vector(self, query: str, precision: str) -> np.ndarray:
        """The query's embedding in that precision (int8 passages get an int8 question, the rest
        float32: encode_query), cached with the pools (a page and its highlights reuse it)."""
        key = (precision, query)
        with self._lock:
            if key in self._vectors:
                self._vectors.move_to_end(key)
                return self._vectors[key]
        vector = self.embedder.encode_query(query, precision)
        with self._lock:
            self._vectors[key] = vector
            while len(self._vectors) > POOL_CACHE:
                self._vectors.popitem(last=False)
        return vector

    def _cached(self, key: tuple, make: Callable[[], Pool]) -> Pool:
        """The pool kept under key, else make()'s, kept (the POOL_CACHE latest)."""
        with self._lock:
            if key in self._pools:
                self._pools.move_to_end(key)
                return self._pools[key]
        pool = make()
        with self._lock:
            self._pools[key] = pool
            while len(self._pools) > POOL_CACHE:
                self._pools.popitem(last=False)
        return pool

    def _pool(self, loaded: Build, query: str, mode: str, filters: Filters) -> Pool:
        """The ranked candidate pool of a query, cached: a results page, its timeline and its
        next pages rank once."""
        def make() -> Pool:
            parsed = parse(query)
            pool = self._ranked(loaded, parsed.text, mode, CANDIDATES, filters)
            return pool if parsed.plain else constrained(loaded, pool, parsed)
        return self._cached((loaded.name, query, mode, filters), make)

    def _matching(self, loaded: Build, query: str, mode: str, filters: Filters) -> Pool:
        """The pool of the stories that match the query (search/matching.py), ranked pool's
        order first, cached: what the page counts, timelines, facets and exports count."""
        def make() -> Pool:
            if filters and not loaded.admits(filters):
                return Pool.ranked(loaded, [], [])
            parsed = parse(query)
            vector = None if mode == "keyword" else \
                self._query_vector(parsed.text, loaded.manifest.precision)
            return matching_pool(loaded, self._pool(loaded, query, mode, filters), vector,
                                 parsed, analyse(parsed.text), mode, filters)
        return self._cached((loaded.name, query, mode, filters, "matching"), make)

    def ranked(self, query: str, mode: str = DEFAULT_MODE, depth: int = CANDIDATES,
               filters: Filters = Filters()) -> list[tuple[int, float, float | None, float | None]]:
        """(passage id, score, similarity, keyword score) best first, for a checked query
        (its operators applied: query.py).

        semantic: cosine similarity over the vectors; keyword: BM25 over the stemmed words, of
        the passage and of its article (fusion.KEYWORD); hybrid: both lists, each `depth` long,
        fused by normalised scores with the articles' BM25 (see _convex, fusion.HYBRID);
        hybrid-rrf: the two lists by reciprocal rank fusion.
        """
        loaded, parsed = self._current(), parse(query)
        pool = self._ranked(loaded, parsed.text, mode, depth, filters)
        return (pool if parsed.plain else constrained(loaded, pool, parsed)).entries()

    def _ranked(self, loaded: Build, query: str, mode: str, depth: int, filters: Filters
                ) -> Pool:
        # Filters apply inside the retrievers, so a narrow filter still fills the pool.
        if filters and not loaded.admits(filters):
            return Pool.ranked(loaded, [], [])
        vector = None if mode == "keyword" else \
            self._query_vector(query, loaded.manifest.precision)
        stems = None if mode == "semantic" else analyse(query)
        # The hybrid fusion looks scores up: it needs no order.
        lists = loaded.retrieve(vector, stems, depth, filters, ordered=mode == "hybrid-rrf",
                                articles=mode in ("hybrid", "keyword"))
        if mode == "semantic":
            return Pool.ranked(loaded, *lists.semantic, lists.semantic[1])
        if mode == "hybrid-rrf":  # the textbook fusion, kept for comparison in `eval`
            similarity = dict(zip(lists.semantic[0].tolist(), lists.semantic[1].tolist()))
            keyword = dict(zip(lists.keyword[0].tolist(), lists.keyword[1].tolist()))
            fused = reciprocal_rank_fusion([list(similarity), list(keyword)])
            return Pool.ranked(loaded, [pid for pid, _ in fused], [score for _, score in fused],
                                [similarity.get(pid, np.nan) for pid, _ in fused],
                                [keyword.get(pid, np.nan) for pid, _ in fused], in_order=True)
        return convex(loaded, phrases(query), lists,
                      KEYWORD if mode == "keyword" else HYBRID, vector)

    def search(self, query: str, k: int = 10, mode: str = DEFAULT_MODE,
               filters: Filters = Filters(), group: str = "article", page: int = 1,
               sort: str = "relevance", recency: int | None = None,
               explain: bool = False, matching_only: bool = False) -> SearchResult:
        """Page `page` of the results that best answer the query, k a page, best first.

        group="article" gives each article once, by its best passage, with its other matching
        passages attached; group="passage" gives every passage. Pages are cut from one ranked
        pool of candidates, so no result repeats or goes missing between pages.
        sort="date" orders the DATE_SORTED most relevant results newest first. recency=D
        halves a result's score for every D days it is older than the newest article.
        explain=True marks, in hits that share no word with the query, the sentence closest to
        it in meaning (sentences are embedded: it costs tens of milliseconds on a CPU).
        The result counts the stories that match (search/matching.py); matching_only=True
        lists those alone, every one of them, the ranked ones first.
        """
        query, k = check_query(query, k)
        words = parse(query).text  # what is searched and marked: the operators' words
        mode = mode if mode in EVAL_MODES else check_mode(mode)  # hybrid-rrf: for `eval`
        group, page = check_group(group), check_page(page)
        sort, recency = check_sort(sort), check_recency(recency)
        started = time.perf_counter()
        loaded = self._current()  # one build for the whole query, even if a swap happens now
        filters = resolved(loaded, filters)
        matched = self._matching(loaded, query, mode, filters)
        pool = matched if matching_only else self._pool(loaded, query, mode, filters)
        if recency:
            pool = boost_recent(loaded, pool, recency)
        heads, total = result_heads(pool, group, sort)
        shown = heads[(page - 1) * k: page * k].tolist()
        hits = page_hits(loaded, pool, shown, group, (page - 1) * k + 1, mode, words)
        # A passage found by its words alone: its similarity, for display.
        unmeasured = [h.passage_id for h in hits if h.similarity is None] \
            if mode != "keyword" else []
        if unmeasured:
            vector = self._query_vector(words, loaded.manifest.precision)[0]
            measured = dict(zip(unmeasured,
                                (loaded.vectors(np.array(unmeasured)) @ vector).tolist()))
            hits = [replace(h, similarity=measured[h.passage_id]) if h.similarity is None else h
                    for h in hits]
        if explain and mode != "keyword":
            hits = explain_by_meaning(hits, self._query_vector(words, loaded.manifest.precision),
                lambda texts: self.embedder.encode_few(texts, loaded.manifest.precision))
        return SearchResult(query, k, mode, hits, (time.perf_counter() - started) * 1000,
                            page, total, len(first_places(matched.about.stories)), group,
                            filters, sort, recency, matching_only)

    def new_stories(self, query: str, known: set[str], mode: str = DEFAULT_MODE,
                    filters: Filters = Filters(), results: bool = True
                    ) -> tuple[list[str], list[Hit]]:
        """The stories that match the query (search/matching.py), best first: the article id
        of each one's best article, and the results (as a search lists them, ranked among the
        matching stories) of those whose best article is not in known (none unless results).
        What a watch follows."""
        query, _ = check_query(query, 1)
        mode, loaded = check_mode(mode), self._current()
        filters = resolved(loaded, filters)
        pool = self._matching(loaded, query, mode, filters)
        heads = first_places(pool.about.stories)
        found = loaded.passages([int(pool.ids[at]) for at in heads])
        named = [(rank, at, found[int(pool.ids[at])][1].id) for rank, at in
                 enumerate(heads.tolist(), 1) if int(pool.ids[at]) in found]
        fresh = [(rank, at, aid) for rank, at, aid in named if results and aid not in known]
        hits = page_hits(loaded, pool, [at for _, at, _ in fresh], "article", 1, mode,
                         parse(query).text)
        ranks = {aid: rank for rank, _, aid in fresh}  # a hit is of its head's article
        return [aid for _, _, aid in named], [replace(h, rank=ranks[h.article.id]) for h in hits]

    def timeline(self, query: str, mode: str = DEFAULT_MODE, filters: Filters = Filters(),
                 interval: str = "auto", stories: int | None = None, share: bool = False
                 ) -> Timeline:
        """The stories that match the query, counted per period of their date (see
        timelines)."""
        return self.timelines(query, mode, filters, interval, stories, share)[0]

    def timelines(self, query: str, mode: str = DEFAULT_MODE, filters: Filters = Filters(),
                  interval: str = "auto", stories: int | None = None, share: bool = False,
                  compare: Sequence[str] = ()) -> list[Timeline]:
        """The stories that match the query (search/matching.py; only the `stories` best of
        them if given), each counted once, in the period of its best passage's article; with
        share, each period also holds how many stories the archive has there (within the
        filters). compare: up to MAX_COMPARED more questions, counted on the same periods, one
        timeline each after the query's."""
        queries = [check_query(q, 1)[0] for q in (query, *compare)]
        if len(queries) > MAX_COMPARED + 1:
            raise QueryError(f"at most {MAX_COMPARED} questions to compare with, got "
                             f"{len(queries) - 1}")
        mode, interval = check_mode(mode), check_interval(interval)
        stories = check_stories(stories)
        loaded = self._current()
        filters = resolved(loaded, filters)
        series, matching = [], []
        for q in queries:
            about = self._matching(loaded, q, mode, filters).about
            heads = first_places(about.stories)
            days = about.days[heads[:stories]]  # NaN: undated
            series.append([date.fromordinal(int(d)).isoformat() if d == d else "" for d in days])
            matching.append(len(heads))
        found = [replace(t, query=q, matching=n) for t, q, n in
                 zip(count_together(series, interval), queries, matching)]
        if share:
            story, day = loaded.story_days(filters)
            found = [t.with_totals(story, day) for t in found]
        return found

    def article_passages(self, article_id: str) -> list[tuple[int, Passage]]:
        """(passage id, passage) of an article, in order."""
        return self._current().article_passages(article_id)

    def sources(self) -> list[tuple[str, int]]:
        """The outlets of the served index with their article counts, largest first."""
        return self._current().sources

    def check_filters(self, filters: Filters) -> Filters:
        """filters as the served index resolves them; QueryError for an outlet, a language or
        an entity it does not have."""
        return resolved(self._current(), filters)

    def languages(self) -> list[tuple[str, int]]:
        """The languages of the served index's articles with their counts, largest first (""
        for those too short to tell)."""
        return self._current().languages

    def passage_articles(self) -> dict[int, str]:
        """Every passage id of the served index with its article's id."""
        return self._current().passage_articles()

    def article(self, article_id: str) -> Article | None:
        """The whole article with this id, or None."""
        return self._current().article(article_id)

    def health(self) -> dict[str, Any]:
        """What the served index holds and how it was built; `problem` says why it is not the
        build that CURRENT names, when it is not. The store is asked for a row first: an
        IndexerError (a 503 from the server) when it cannot answer."""
        loaded = self._current()
        loaded.probe()
        m = loaded.manifest
        day = lambda d: None if d != d else date.fromordinal(int(d)).isoformat()  # noqa: E731
        return {"status": "degraded" if self.problem else "ok", "problem": self.problem,
                "index": loaded.name, "model": m.model, "dimension": m.dimension,
                "articles": m.articles, "passages": m.passages, "outlets": len(loaded.sources),
                "oldest": day(loaded.oldest), "newest": day(loaded.newest),
                "built_at": m.built_at, "store": m.store}



    def entity(self, name: str, interval: str = "auto") -> EntityView:
        """A person, organisation or place by any of its names: its articles over time, the
        names beside it, its latest articles (search/entity.py); QueryError for a name no
        article gives, or an index without entities."""
        names = make_filters(entities=[name]).entities  # checked as a filter's are
        if not names:
            raise QueryError("name must name a person, organisation or place")
        return entity_view(self._current(), names[0], check_interval(interval))

    def thread(self, article_id: str) -> list[ThreadStory]:
        """The stories of the article's thread, first report first (thread.thread_stories)."""
        return thread_stories(self._current(), article_id)

    def facets(self, query: str, mode: str = DEFAULT_MODE, filters: Filters = Filters(),
               stories: int | None = None, top: int = FACETS_SHOWN) -> Facets:
        """The outlets and the words most frequent among the stories that match the query
        (only the `stories` best of them if given: facets.count_facets)."""
        query, _ = check_query(query, 1)
        mode = check_mode(mode)
        stories = check_stories(stories)
        loaded = self._current()
        pool = self._matching(loaded, query, mode, resolved(loaded, filters))
        return count_facets(loaded, pool, query, stories, top)
