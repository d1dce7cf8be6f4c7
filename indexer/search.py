"""Answering a question from an index folder: the Searcher and the Hit it returns."""

from __future__ import annotations

import functools
import logging
import re
from collections import OrderedDict
import threading
import time
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from .articles import Article
from .chunking import Passage, sentence_spans
from .embedding import DEFAULT_MODEL, Embedder
from .errors import IndexCorruptError, IndexMismatchError, QueryError
from .filters import Filters, resolve_sources
from .answers import choose
from .fusion import HYBRID, KEYWORD, Weights, min_max_array, reciprocal_rank_fusion
from .highlight import Highlights, closest_sentences, highlight
from .indexdir import builds, current_build, current_name
from .keywords import load_keyword_indexes
from .manifest import Manifest
from .metadata import MetadataReader
from .store import FaissStore
from .terms import analyse, phrases, query_stems
from .timeline import Timeline, check_interval, count_by_period

MAX_QUERY_CHARS = 1000
MAX_K = 100
MODES = ("hybrid", "semantic", "keyword")
EVAL_MODES = MODES + ("hybrid-rrf",)  # and RRF, the textbook fusion, to compare in `eval`
DEFAULT_MODE = "hybrid"
CANDIDATES = 1000  # passages each retriever proposes to the fusion: the pool pages are cut from
GROUPS = ("article", "passage")
SORTS = ("relevance", "date")
DATE_SORTED = 100  # sort=date orders this many of the most relevant results by date
MAX_RECENCY_DAYS = 36500
EXPLAIN_SENTENCES = 40  # at most about this many sentences embedded to explain one page
POOL_CACHE = 64  # ranked pools kept, most recent queries first
TIMELINE_STORIES = 200  # a timeline counts this many of the best matching stories
MAX_PAGE = 100
MORE_SHOWN = 3  # other matching passages of an article listed under its best one
ANSWER_CHOICES = 6  # passages of an article a result may show (answers.py): the best and 5 more
RELOAD_CHECK_SECONDS = 1.0

log = logging.getLogger(__name__)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


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
    more: tuple[tuple[int, Passage], ...] = ()  # (id, passage): the article's other matches
    more_count: int = 0  # how many there are in all (more holds the first few)
    copies: tuple[Article, ...] = ()  # the same story published elsewhere (syndicated copies)

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
                "sentence_by": self.highlights.basis if self.highlights.sentence else None,
            },
            "also_published": [a.to_dict() for a in self.copies],
            "more_passages": self.more_count,
            "more": [{"passage_id": pid, "position": p.position, "offsets": [p.start, p.end],
                      "text": p.text} for pid, p in self.more],
        }

    @property
    def more_ids(self) -> list[int]:
        """The ids of the other matching passages shown."""
        return [pid for pid, _ in self.more]


@dataclass(frozen=True)
class SearchResult:
    """The hits for one query, and how long finding them took."""

    query: str
    k: int
    mode: str
    hits: list[Hit]
    took_ms: float
    page: int = 1
    total: int = 0  # results in the candidate pool, across all pages
    matching: int | None = None  # of those, how many hold the query's words (None: semantic)
    group: str = "article"
    filters: Filters = Filters()
    sort: str = "relevance"
    recency: int | None = None

    @property
    def has_more(self) -> bool:
        """Whether a next page holds results."""
        return self.page * self.k < self.total

    def to_dict(self) -> dict[str, Any]:
        """The result as the JSON API returns it."""
        return {"query": self.query, "k": self.k, "mode": self.mode, "group": self.group,
                "sort": self.sort, "recency": self.recency,
                "filters": self.filters.to_dict(), "page": self.page, "total": self.total,
                "matching": self.matching, "has_more": self.has_more, "took_ms": round(self.took_ms, 2),
                "results": [h.to_dict() for h in self.hits]}


def check_mode(mode: Any) -> str:
    """mode if it is one of MODES; QueryError otherwise."""
    if mode not in MODES:
        raise QueryError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


def _whole_number(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise QueryError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise QueryError(f"{name} must be a whole number from {low} to {high}, got {value!r}") from None
    if not low <= number <= high:
        raise QueryError(f"{name} must be from {low} to {high}, got {number}")
    return number


def check_page(page: Any) -> int:
    """page as an int from 1 to MAX_PAGE; QueryError otherwise."""
    return _whole_number("page", page, 1, MAX_PAGE)


def check_sort(sort: Any) -> str:
    """sort if it is one of SORTS; QueryError otherwise."""
    if sort not in SORTS:
        raise QueryError(f"sort must be one of {', '.join(SORTS)}, got {sort!r}")
    return sort


def check_recency(days: Any) -> int | None:
    """A recency half-life in days (1 to MAX_RECENCY_DAYS), or None for no boost."""
    if days is None or days == "":
        return None
    return _whole_number("recency", days, 1, MAX_RECENCY_DAYS)


def _day_number(text: str) -> float:
    """Days since year 1 of an ISO date's day, or NaN when the date is not ISO."""
    day = text[:10]
    if len(day) == 10 and day[4] == day[7] == "-" and day.replace("-", "").isdigit():
        try:  # 20x faster than strptime
            return float(date.fromisoformat(day).toordinal())
        except ValueError:
            pass
    try:
        return float(datetime.strptime(day, "%Y-%m-%d").toordinal())
    except ValueError:
        return float("nan")


def check_group(group: Any) -> str:
    """group if it is one of GROUPS; QueryError otherwise."""
    if group not in GROUPS:
        raise QueryError(f"group must be one of {', '.join(GROUPS)}, got {group!r}")
    return group


def check_query(query: Any, k: Any = 10) -> tuple[str, int]:
    """The query stripped and k as an int; QueryError says what is wrong with either."""
    if isinstance(query, str):
        query = _CONTROL.sub("", query).strip()  # NUL and other controls are never meant
    if not isinstance(query, str) or not query:
        raise QueryError("the query is empty: type a question or some words to search for")
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is {len(query)} characters long; the limit is {MAX_QUERY_CHARS}")
    return query, _whole_number("k", k, 1, MAX_K)


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

    @functools.cached_property
    def sources(self) -> list[tuple[str, int]]:
        """The outlets with their article counts, largest first (a build never changes)."""
        return self.meta.sources()

    def __init__(self, folder: Path, model: str):
        self.folder = folder
        self.manifest = Manifest.read(folder)
        self.manifest.check_model(model, folder)
        self.store = FaissStore.load(folder, self.manifest.dimension, mapped=True)
        self.meta = MetadataReader(folder)
        self.keywords, self.article_keywords, self.phrase_keywords = load_keyword_indexes(folder)
        articles, passages = self.meta.counts()
        # Passage id -> article row id, and -> story (syndicated copies share one). Ids have
        # gaps where an update removed passages; those slots stay -1.
        owners = self.meta.passage_owners()
        size = max((pid for pid, _, _ in owners), default=-1) + 1
        self.owners = np.full(size, -1, dtype=np.int64)
        self.stories = np.full(size, -1, dtype=np.int64)
        codes: dict[str, int] = {}
        for pid, rowid, story in owners:
            self.owners[pid] = rowid
            self.stories[pid] = codes.setdefault(story, len(codes))
        # Articles per story: a story of one article has no copies to look up.
        self.story_sizes = np.bincount(np.unique(
            np.stack([self.owners, self.stories])[:, self.owners >= 0], axis=1)[1],
            minlength=len(codes))
        dates = self.meta.article_dates()  # article row id -> its day, NaN if undated
        self.days = np.full(max(dates, default=0) + 1, np.nan)
        for rowid, day in dates.items():
            self.days[rowid] = _day_number(day)
        # Equal scores (syndicated copies, word for word) are ranked by article id, then passage
        # order: not by row ids, which follow the order of reading, so an update ranks as a
        # rebuild does.
        self.id_rank = np.zeros(len(self.days), dtype=np.int64)
        rows = self.meta.rows_by_id()
        self.id_rank[rows] = np.arange(len(rows))
        known = self.days[~np.isnan(self.days)]
        self.newest = float(known.max()) if len(known) else float("nan")
        self.oldest = float(known.min()) if len(known) else float("nan")
        if (articles, passages) != (self.manifest.articles, self.manifest.passages) \
                or len(self.store) != passages or len(self.keywords) != passages \
                or len(self.article_keywords) != articles or len(self.phrase_keywords) != articles:
            raise IndexCorruptError(
                f"index {folder} is inconsistent: manifest says {self.manifest.articles} articles"
                f" and {self.manifest.passages} passages, the database holds {articles} and "
                f"{passages}, the vectors {len(self.store)}, the keyword index "
                f"{len(self.keywords)}: rebuild it with "
                "`news-search index PATH`")


@dataclass(frozen=True)
class _Pool:
    """A ranked candidate pool, best first, as arrays: passage ids, scores, and each one's
    similarity and keyword score (NaN where that list did not retrieve it)."""

    ids: np.ndarray
    scores: np.ndarray
    similarity: np.ndarray
    keyword: np.ndarray

    @classmethod
    def of(cls, ids: Any, scores: Any, similarity: Any = None, keyword: Any = None) -> _Pool:
        ids, scores = np.asarray(ids, dtype=np.int64), np.asarray(scores, dtype=np.float64)
        missing = np.full(len(ids), np.nan)
        return cls(ids, scores, missing if similarity is None else
                   np.asarray(similarity, dtype=np.float64),
                   missing if keyword is None else np.asarray(keyword, dtype=np.float64))

    def entry(self, at: int) -> tuple[int, float, float | None, float | None]:
        """(passage id, score, similarity or None, keyword score or None) of the one at `at`."""
        sim, kw = float(self.similarity[at]), float(self.keyword[at])
        return (int(self.ids[at]), float(self.scores[at]), None if sim != sim else sim,
                None if kw != kw else kw)

    def entries(self) -> list[tuple[int, float, float | None, float | None]]:
        return [self.entry(at) for at in range(len(self.ids))]


def _distinct(*arrays: np.ndarray) -> np.ndarray:
    """The values found in the arrays, each once, ascending: np.union1d, by one sort (numpy
    2.4's np.unique hashes, 4x slower on a search's 2,000 candidates)."""
    values = np.sort(np.concatenate(arrays))
    return values[np.concatenate(([True], values[1:] != values[:-1]))] if len(values) else values


def _story_heads(stories: np.ndarray) -> np.ndarray:
    """Where each story first appears in a ranked list of story codes (its best entry), in
    ranked order."""
    if not len(stories):
        return np.zeros(0, dtype=np.intp)
    codes = stories - stories.min()
    where = np.arange(len(codes))
    first = np.full(int(codes.max()) + 1, len(codes))  # story code -> its first place
    np.minimum.at(first, codes, where)  # (3x faster than np.unique(return_index) here)
    return np.flatnonzero(first[codes] == where)


def _by_score(loaded: _Loaded, ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """The order of passages best first, equal scores by article id and then passage order."""
    return np.lexsort((ids, loaded.id_rank[loaded.owners[ids]], -scores))


def _boost_recent(loaded: _Loaded, pool: _Pool, half_life: int) -> _Pool:
    """The pool re-scored by 2^(-age / half_life), age in days before the index's newest article;
    an undated article counts as old as the oldest. Equal scores keep their order."""
    day = loaded.days[loaded.owners[pool.ids]]
    age = loaded.newest - np.where(np.isnan(day), loaded.oldest, day)
    factor = np.where(np.isnan(age), 1.0, 0.5 ** (np.nan_to_num(age) / half_life))
    scores = pool.scores * factor
    order = np.argsort(-scores, kind="stable")
    return _Pool(pool.ids[order], scores[order], pool.similarity[order], pool.keyword[order])


def _open_served(index_dir: Path, model: str) -> tuple[_Loaded, str | None]:
    """The build that CURRENT names, opened; if its files are damaged, the newest other build
    that opens (a server process started after a bad build serves what the others still
    serve), with the problem said. The first error when none opens."""
    current = current_build(index_dir)
    try:
        return _Loaded(current, model), None
    except IndexMismatchError:
        raise  # built with other settings: not damaged, and an older build is no answer
    except Exception as exc:  # noqa: BLE001 - a damaged file fails in many ways
        for folder in sorted(builds(index_dir), reverse=True):
            if folder == current:
                continue
            try:
                loaded = _Loaded(folder, model)
            except Exception:  # noqa: BLE001, S112
                continue
            problem = (f"the build {current.name} that CURRENT names did not load ({exc}); "
                       f"serving {folder.name}, the newest build that does")
            log.error("%s", problem)
            return loaded, problem
        raise


class Searcher:
    """Searches the index that an index folder serves, following it when a rebuild swaps it."""

    def __init__(self, index_dir: Path, model: str = DEFAULT_MODEL,
                 embedder: Embedder | None = None):
        self.index_dir = Path(index_dir)
        self.model = model
        self._embedder = embedder
        self._lock = threading.Lock()
        self._pools: OrderedDict = OrderedDict()
        self._vectors: OrderedDict = OrderedDict()
        # One query is too little work for OpenMP's start-up to pay (2.4 ms on one thread, 5.4
        # on two). Process-wide, so set where queries are served, not where indexes are built.
        faiss.omp_set_num_threads(1)
        self._loaded, self.problem = _open_served(self.index_dir, model)
        self._name = current_name(self.index_dir) or self._loaded.folder.name
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
                            self.problem = None
                            log.info("now serving %s", self._loaded.folder)
                        except Exception as exc:  # keep serving the last good build
                            self.problem = (f"the build {name} did not load ({exc}); still "
                                            f"serving {self._loaded.folder.name}")
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

    def _pool(self, loaded: _Loaded, query: str, mode: str, filters: Filters) -> _Pool:
        """The ranked candidate pool of a query, cached: a results page, its timeline and its
        next pages rank once."""
        key = (loaded.folder.name, query, mode, filters)
        with self._lock:
            if key in self._pools:
                self._pools.move_to_end(key)
                return self._pools[key]
        pool = self._ranked(loaded, query, mode, CANDIDATES, filters)
        with self._lock:
            self._pools[key] = pool
            while len(self._pools) > POOL_CACHE:
                self._pools.popitem(last=False)
        return pool

    def ranked(self, query: str, mode: str = DEFAULT_MODE, depth: int = CANDIDATES,
               filters: Filters = Filters()) -> list[tuple[int, float, float | None, float | None]]:
        """(passage id, score, similarity, keyword score) best first, for a checked query.

        semantic: cosine similarity over the vectors; keyword: BM25 over the stemmed words, of
        the passage and of its article (fusion.KEYWORD); hybrid: both lists, each `depth` long,
        fused by normalised scores with the articles' BM25 (see _convex, fusion.HYBRID);
        hybrid-rrf: the two lists by reciprocal rank fusion.
        """
        return self._ranked(self._current(), query, mode, depth, filters).entries()

    def _ranked(self, loaded: _Loaded, query: str, mode: str, depth: int, filters: Filters
                ) -> _Pool:
        no_ids, no_scores = np.zeros(0, dtype=np.int64), np.zeros(0)
        sem_ids, sem_scores, kw_ids, kw_scores = no_ids, no_scores, no_ids, no_scores
        allowed = None
        if filters:  # filter inside the retrievers, so a narrow filter still fills the pool
            allowed = np.array(loaded.meta.filtered_passages(filters), dtype=np.int64)
            if not len(allowed):
                return _Pool.of([], [])
        if mode != "keyword":
            vector = self._query_vector(query, loaded.manifest.precision)
            scores, ids = loaded.store.search(vector, depth, allowed)
            found = ids[0] >= 0
            sem_ids, sem_scores = ids[0][found], scores[0][found].astype(np.float64)
        stems = analyse(query)
        if mode != "semantic":  # the hybrid fusion looks scores up: it needs no order
            kw_ids, kw_scores = loaded.keywords.top(stems, depth, allowed, mode == "hybrid-rrf")
        if mode == "semantic":
            order = _by_score(loaded, sem_ids, sem_scores)
            return _Pool.of(sem_ids[order], sem_scores[order], sem_scores[order])
        if mode == "hybrid-rrf":  # the textbook fusion, kept for comparison in `eval`
            similarity = dict(zip(sem_ids.tolist(), sem_scores.tolist()))
            keyword = dict(zip(kw_ids.tolist(), kw_scores.tolist()))
            fused = reciprocal_rank_fusion([list(similarity), list(keyword)])
            return _Pool.of([pid for pid, _ in fused], [score for _, score in fused],
                            [similarity.get(pid, np.nan) for pid, _ in fused],
                            [keyword.get(pid, np.nan) for pid, _ in fused])
        return self._convex(loaded, stems, phrases(query), depth, allowed,
                            (sem_ids, sem_scores), (kw_ids, kw_scores),
                            KEYWORD if mode == "keyword" else HYBRID)

    @staticmethod
    def _convex(loaded: _Loaded, stems: list[str], pairs: list[str], depth: int,
                allowed: np.ndarray | None, semantic: tuple[np.ndarray, np.ndarray],
                keyword: tuple[np.ndarray, np.ndarray], weights: Weights) -> _Pool:
        """Candidates of both lists (ids, scores) by the weighted sum of their min-max normalised
        similarity, own BM25 and article BM25 (Bruch et al. 2023 found such a convex combination
        better than RRF; it is here too, on every eval set), and of their article's phrase BM25
        (for the query's word pairs) over the best candidate's. allowed: the passages a filter
        lets in. A candidate's similarity or BM25 is NaN where
        that list did not retrieve it."""
        articles = None if allowed is None else _distinct(loaded.owners[allowed])
        art_ids, art_scores = loaded.article_keywords.top(stems, depth, articles, False)
        by_article = np.zeros(len(loaded.days))
        by_article[art_ids] = min_max_array(art_scores)
        candidates = _distinct(semantic[0], keyword[0])
        owners = loaded.owners[candidates]
        fused = weights.article_keyword * by_article[owners]
        phrase_ids, phrase_scores = loaded.phrase_keywords.matches(pairs)
        if len(phrase_ids) and len(owners):  # each candidate's article's phrase score, or 0
            at = np.searchsorted(phrase_ids, owners).clip(max=len(phrase_ids) - 1)
            said = np.where(phrase_ids[at] == owners, phrase_scores[at], 0.0)
            if said.max() > 0:
                fused += weights.phrase * (said / said.max())
        raw = []
        for (ids, scores), weight in ((semantic, weights.semantic),
                                      (keyword, weights.passage_keyword)):
            where = np.searchsorted(candidates, ids)
            fused[where] += weight * min_max_array(scores)
            raw.append(np.full(len(candidates), np.nan))
            raw[-1][where] = scores
        fused /= weights.total
        order = _by_score(loaded, candidates, fused)
        return _Pool(candidates[order], fused[order], raw[0][order], raw[1][order])

    def search(self, query: str, k: int = 10, mode: str = DEFAULT_MODE,
               filters: Filters = Filters(), group: str = "article", page: int = 1,
               sort: str = "relevance", recency: int | None = None,
               explain: bool = False) -> SearchResult:
        """Page `page` of the results that best answer the query, k a page, best first.

        group="article" gives each article once, by its best passage, with its other matching
        passages attached; group="passage" gives every passage. Pages are cut from one ranked
        pool of candidates, so no result repeats or goes missing between pages.
        sort="date" orders the DATE_SORTED most relevant results newest first. recency=D
        halves a result's score for every D days it is older than the newest article.
        explain=True marks, in hits that share no word with the query, the sentence closest to
        it in meaning (sentences are embedded: it costs tens of milliseconds on a CPU).
        """
        query, k = check_query(query, k)
        mode = mode if mode in EVAL_MODES else check_mode(mode)  # hybrid-rrf: for `eval`
        group, page = check_group(group), check_page(page)
        sort, recency = check_sort(sort), check_recency(recency)
        started = time.perf_counter()
        loaded = self._current()  # one build for the whole query, even if a swap happens now
        filters = resolve_sources(filters, loaded.sources)
        pool = self._pool(loaded, query, mode, filters)
        if recency:
            pool = _boost_recent(loaded, pool, recency)
        # heads: where in the pool each result's best passage is, in result order.
        if group == "article":  # one result per story: an article and its syndicated copies
            stories = loaded.stories[pool.ids]
            heads = _story_heads(stories)
        else:
            heads = np.arange(len(pool.ids))
        total = len(heads)
        matching = None
        if mode != "semantic":  # the results with at least one passage holding its words
            worded = ~np.isnan(pool.keyword)
            matching = len(_distinct(stories[worded])) if group == "article" \
                else int(worded.sum())
        if sort == "date":  # newest first; undated last; equal days keep their relevance order
            heads = heads[:DATE_SORTED]
            day = loaded.days[loaded.owners[pool.ids[heads]]]
            heads = heads[np.argsort(np.where(np.isnan(day), np.inf, -day), kind="stable")]
        shown = heads[(page - 1) * k: page * k].tolist()
        owners = loaded.owners[pool.ids]
        # Each result's other passages of the same article, best first (a story also holds its
        # copies', which are listed as copies instead).
        owns = [np.flatnonzero((stories == stories[at]) & (owners == owners[at]))[1:].tolist()
                if group == "article" else [] for at in shown]
        # What a result may show instead of its best passage: its article's next ones in the
        # pool that hold the question's words (answers.py; semantic mode has no word counts).
        worded = ~np.isnan(pool.keyword) if mode != "semantic" else np.ones(len(pool.ids), bool)
        choices = [[head, *[at for at in own if worded[at]][:ANSWER_CHOICES - 1]]
                   for head, own in zip(shown, owns)]
        found = loaded.meta.passages({int(pool.ids[at]) for choice, own in zip(choices, owns)
                                      for at in [*choice, *own[:MORE_SHOWN]]})
        stems = query_stems(query)
        weights = loaded.keywords.idf(stems)
        hits = []
        for head, own, choice in zip(shown, owns, choices):
            choice = [at for at in choice if int(pool.ids[at]) in found]
            if not choice:
                continue
            picked = choose([(found[int(pool.ids[at])][0].text,
                              found[int(pool.ids[at])][0].position) for at in choice],
                            stems, weights, query)
            if picked is None:  # none holds the question's words: the best one
                chosen = choice[0]
                lights = highlight(found[int(pool.ids[chosen])][0].text, stems, weights)
            else:
                chosen, lights = choice[picked[0]], picked[1]
            passage, article = found[int(pool.ids[chosen])]
            pid, _, similarity, keyword = pool.entry(chosen)
            others = [at for at in [head, *own] if at != chosen]
            more = tuple((int(pool.ids[at]), found[int(pool.ids[at])][0])
                         for at in others[:MORE_SHOWN] if int(pool.ids[at]) in found)
            copies = tuple(loaded.meta.story_copies(article.id)) \
                if group == "article" and loaded.story_sizes[stories[head]] > 1 else ()
            hits.append(Hit((page - 1) * k + len(hits) + 1, float(pool.scores[head]), pid,
                            passage, article, lights, similarity, keyword, more,
                            len(own), copies))
        # A passage found by its words alone: its similarity, for display.
        unmeasured = [h.passage_id for h in hits if h.similarity is None] \
            if mode != "keyword" else []
        if unmeasured:
            vector = self._query_vector(query, loaded.manifest.precision)[0]
            measured = dict(zip(unmeasured,
                                (loaded.store.vectors(np.array(unmeasured)) @ vector).tolist()))
            hits = [replace(h, similarity=measured[h.passage_id]) if h.similarity is None else h
                    for h in hits]
        if explain and mode != "keyword":
            hits = self._explain_by_meaning(query, hits, loaded.manifest.precision)
        return SearchResult(query, k, mode, hits, (time.perf_counter() - started) * 1000,
                            page, total, matching, group, filters, sort, recency)

    def _explain_by_meaning(self, query: str, hits: list[Hit], precision: str) -> list[Hit]:
        """Hits that share no word with the query get, as their best sentence, the one closest
        to it in meaning (one call for the page); the others keep the one with most words.

        The sentences are embedded as the question was, in the index's precision: for int8
        passages, through the questions' int8 graph, so a server loads no float32 graph. In the
        top 10 of 300 union headlines (2,725 passages of two sentences or more) it picked the
        sentence float32 picks in 95.8%; the others were near ties (0.0075 of cosine below
        float32's pick at the median, 0.043 at most)."""
        todo, sentences = [], 0
        for i, hit in enumerate(hits):
            if hit.highlights.sentence is None and sentences < EXPLAIN_SENTENCES:
                todo.append(i)
                sentences += len(sentence_spans(hit.passage.text))
        if not todo:
            return hits
        spans = closest_sentences([hits[i].passage.text for i in todo],
                                  self._query_vector(query, precision),
                                  lambda texts: self.embedder.encode_few(texts, precision))
        hits = list(hits)
        for i, span in zip(todo, spans):
            old = hits[i].highlights
            hits[i] = replace(hits[i], highlights=Highlights(old.terms, span, "meaning"))
        return hits

    def timeline(self, query: str, mode: str = DEFAULT_MODE, filters: Filters = Filters(),
                 interval: str = "auto", stories: int = TIMELINE_STORIES) -> Timeline:
        """The `stories` stories that best match the query, counted per period of their date."""
        query, _ = check_query(query, 1)
        mode, interval = check_mode(mode), check_interval(interval)
        stories = _whole_number("stories", stories, 1, CANDIDATES)
        loaded = self._current()
        ids = self._pool(loaded, query, mode, resolve_sources(filters, loaded.sources)).ids
        best = _story_heads(loaded.stories[ids])[:stories]
        days = loaded.days[loaded.owners[ids[best]]]  # each story's best article's; NaN: undated
        return count_by_period([date.fromordinal(int(d)).isoformat() if d == d else ""
                                for d in days], interval)

    def article_passages(self, article_id: str) -> list[tuple[int, Passage]]:
        """(passage id, passage) of an article, in order."""
        return self._current().meta.article_passages(article_id)

    def sources(self) -> list[tuple[str, int]]:
        """The outlets of the served index with their article counts, largest first."""
        return self._current().sources

    def passage_articles(self) -> dict[int, str]:
        """Every passage id of the served index with its article's id."""
        return self._current().meta.passage_articles()

    def article(self, article_id: str) -> Article | None:
        """The whole article with this id, or None."""
        return self._current().meta.article(article_id)

    def health(self) -> dict[str, Any]:
        """What the served index holds and how it was built; `problem` says why it is not the
        build that CURRENT names, when it is not."""
        loaded = self._current()
        m = loaded.manifest
        day = lambda d: None if d != d else date.fromordinal(int(d)).isoformat()  # noqa: E731
        return {"status": "degraded" if self.problem else "ok", "problem": self.problem,
                "index": str(loaded.folder), "model": m.model, "dimension": m.dimension,
                "articles": m.articles, "passages": m.passages, "outlets": len(loaded.sources),
                "oldest": day(loaded.oldest), "newest": day(loaded.newest),
                "built_at": m.built_at, "store": m.store}
