"""Answering a question from an index folder: the Searcher and the Hit it returns."""

from __future__ import annotations

import logging
import re
from collections import Counter, OrderedDict
import threading
import time
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, Sequence

import faiss
import numpy as np

from .articles import Article
from .chunking import Passage, sentence_spans
from .embedding import DEFAULT_MODEL, Embedder
from .errors import IndexerError, QueryError
from .filters import Filters, check_languages, resolve_sources
from .answers import LEAD_READ, SHOWN_WORDS, around, choose, opening, window
from .fusion import HYBRID, KEYWORD, LEAD_ARTICLES, Weights, min_max_array, \
    reciprocal_rank_fusion
from .highlight import Highlights, closest_sentences, highlight, matched_words
from .backend import Build, Described
from .local import LocalSource, distinct, first_places
from .manifest import Manifest
from .terms import STOPWORDS, analyse, phrases, query_stems, word_stem
from .timeline import Timeline, check_interval, count_together

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
MAX_COMPARED = 2  # questions a timeline compares its own with
FACETS_SHOWN = 10  # outlets and words listed for the best matching stories
ENTITIES_SHOWN = 5  # people, organisations and places listed, of each
THREAD_ADDS = 6  # new words listed for each later story of a thread
MAX_PAGE = 100
MORE_SHOWN = 3  # other matching passages of an article listed under its best one
ANSWER_CHOICES = 6  # passages of an article a result may show (answers.py): the best and 5 more
RELOAD_CHECK_SECONDS = 1.0

log = logging.getLogger(__name__)
_LETTERS = re.compile(r"\b[^\W\d_]{3,}\b")  # a word of letters only, 3 or more: what facets list
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")  # a lone half of a UTF-16 pair: never text


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
    thread_stories: int = 1  # stories in its thread (threads.py), itself included
    # The article's opening sentences, shown before the passage when it does not hold them
    # (answers.py), with the query's words in it (offsets into its text).
    lead: Passage | None = None
    lead_terms: tuple[tuple[int, int], ...] = ()

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
            "thread_stories": self.thread_stories,
            "lead": None if self.lead is None else {
                "text": self.lead.text, "offsets": [self.lead.start, self.lead.end],
                "terms": [list(t) for t in self.lead_terms]},
            "more": [{"passage_id": pid, "position": p.position, "offsets": [p.start, p.end],
                      "text": p.text} for pid, p in self.more],
        }

    @property
    def more_ids(self) -> list[int]:
        """The ids of the other matching passages shown."""
        return [pid for pid, _ in self.more]


@dataclass(frozen=True)
class ThreadStory:
    """A story of a thread: its article, its copies, its lead passage, and the words it adds
    to the stories before it."""

    article: Article
    copies: tuple[Article, ...]
    lead: str
    adds: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"article": self.article.to_dict(), "lead": self.lead, "adds": list(self.adds),
                "also_published": [a.to_dict() for a in self.copies]}


@dataclass(frozen=True)
class Facets:
    """What the best matching stories have most: their outlets and their words, with how many
    of the stories each is found in."""

    stories: int
    outlets: list[tuple[str, int]]
    words: list[tuple[str, int]]
    entities: list[tuple[str, str, int]] = ()  # (kind, name, stories), with index --entities

    def to_dict(self) -> dict[str, Any]:
        return {"stories": self.stories,
                "outlets": [{"source": s, "stories": n} for s, n in self.outlets],
                "words": [{"word": w, "stories": n} for w, n in self.words],
                "entities": [{"kind": k, "name": e, "stories": n} for k, e, n in self.entities]}


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
    broken = _SURROGATE.search(query)
    if broken:  # from a JSON "\ud800" or bytes that are not UTF-8: no text to embed
        raise QueryError(f"the query is not valid text (a broken character at position "
                         f"{broken.start() + 1}): send it as UTF-8")
    return query, _whole_number("k", k, 1, MAX_K)


_embedders: dict[str, Embedder] = {}
_embedders_lock = threading.Lock()


def get_embedder(model: str) -> Embedder:
    """The process's one loaded instance of a model."""
    with _embedders_lock:
        if model not in _embedders:
            _embedders[model] = Embedder(model)
        return _embedders[model]


@dataclass(frozen=True)
class _Pool:
    """A ranked candidate pool, best first, as arrays: passage ids, scores, each one's
    similarity and keyword score (NaN where that list did not retrieve it), and what the build
    says of each (its article, story and day)."""

    ids: np.ndarray
    scores: np.ndarray
    similarity: np.ndarray
    keyword: np.ndarray
    about: Described

    @classmethod
    def ranked(cls, build: Build, ids: Any, scores: Any, similarity: Any = None,
               keyword: Any = None, in_order: bool = False, about: Described | None = None
               ) -> _Pool:
        """The pool of these candidates, best first: equal scores by article id, then passage
        order (not by the order of reading, so an update ranks as a rebuild does). in_order:
        they are in their order already; about: what the build says of them, if asked
        already."""
        ids, scores = np.asarray(ids, dtype=np.int64), np.asarray(scores, dtype=np.float64)
        missing = np.full(len(ids), np.nan)
        similarity = missing if similarity is None else np.asarray(similarity, np.float64)
        keyword = missing if keyword is None else np.asarray(keyword, np.float64)
        if about is None:
            about = build.describe(ids) if len(ids) else Described.empty()
        order = np.arange(len(ids)) if in_order else np.lexsort((ids, about.ties, -scores))
        return cls(ids[order], scores[order], similarity[order], keyword[order],
                   about.take(order))

    def reordered(self, order: np.ndarray, scores: np.ndarray) -> _Pool:
        """The pool in that order, with new scores (given in the old order)."""
        return _Pool(self.ids[order], scores[order], self.similarity[order],
                     self.keyword[order], self.about.take(order))

    def entry(self, at: int) -> tuple[int, float, float | None, float | None]:
        """(passage id, score, similarity or None, keyword score or None) of the one at `at`."""
        sim, kw = float(self.similarity[at]), float(self.keyword[at])
        return (int(self.ids[at]), float(self.scores[at]), None if sim != sim else sim,
                None if kw != kw else kw)

    def entries(self) -> list[tuple[int, float, float | None, float | None]]:
        return [self.entry(at) for at in range(len(self.ids))]


def _resolved(loaded: Build, filters: Filters) -> Filters:
    """filters with outlets as the index names them; QueryError for an outlet or a language
    the index does not have."""
    filters = check_languages(resolve_sources(filters, loaded.sources), loaded.languages)
    loaded.check_entities(filters)
    return filters


def _boost_recent(loaded: Build, pool: _Pool, half_life: int) -> _Pool:
    """The pool re-scored by 2^(-age / half_life), age in days before the index's newest article;
    an undated article counts as old as the oldest. Equal scores keep their order."""
    day = pool.about.days
    age = loaded.newest - np.where(np.isnan(day), loaded.oldest, day)
    factor = np.where(np.isnan(age), 1.0, 0.5 ** (np.nan_to_num(age) / half_life))
    scores = pool.scores * factor
    return pool.reordered(np.argsort(-scores, kind="stable"), scores)


def _lead_scores(loaded: Build, vector: np.ndarray, owners: np.ndarray, fused: np.ndarray
                 ) -> np.ndarray:
    """For each candidate (its article's key in owners), the similarity of its article's
    opening passage to the query, min-max scaled over the LEAD_ARTICLES best articles by fused
    score; 0 for the others."""
    ranked = owners[np.argsort(-fused, kind="stable")]
    best = np.sort(ranked[first_places(ranked)[:LEAD_ARTICLES]])
    scaled = min_max_array(loaded.lead_vectors(best) @ vector[0])
    return _lookup(best, scaled, owners)


def _lookup(keys: np.ndarray, values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """values[i] where keys[i] is each wanted key, 0 where no key is: keys ascending."""
    if not len(keys) or not len(wanted):
        return np.zeros(len(wanted))
    at = np.searchsorted(keys, wanted).clip(max=len(keys) - 1)
    return np.where(keys[at] == wanted, values[at], 0.0)


def open_source(index_dir: Path, model: str, backend: str | None) -> Any:
    """Where the served builds come from: the index folder, or Milvus (backend milvus://...)."""
    from .milvus import MilvusAddress, MilvusSource, is_milvus

    if is_milvus(backend):
        return MilvusSource(MilvusAddress.parse(backend), model)
    if backend and backend.strip() not in ("local", ""):
        raise IndexerError(f"backend {backend!r} is not known: use local (the index folder) "
                           "or milvus://HOST:PORT/NAME")
    return LocalSource(index_dir, model)


class Searcher:
    """Searches the index that an index folder (or a Milvus alias) serves, following it when a
    rebuild swaps it."""

    def __init__(self, index_dir: Path, model: str = DEFAULT_MODEL,
                 embedder: Embedder | None = None, backend: str | None = None):
        self.index_dir = Path(index_dir)
        self.model = model
        self._embedder = embedder
        self._lock = threading.Lock()
        self._pools: OrderedDict = OrderedDict()
        self._vectors: OrderedDict = OrderedDict()
        # One query is too little work for OpenMP's start-up to pay (2.4 ms on one thread, 5.4
        # on two). Process-wide, so set where queries are served, not where indexes are built.
        faiss.omp_set_num_threads(1)
        self._source = open_source(self.index_dir, model, backend)
        self._loaded, self.problem = self._source.open_served()
        self._name = self._source.current_name() or self._source.name_of(self._loaded)
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
        """The served build; a newer complete one is picked up, a broken one is logged and ignored."""
        now = time.monotonic()
        if now - self._checked >= RELOAD_CHECK_SECONDS:
            self._checked = now
            name = self._source.current_name()
            if name is None and self._name is not None:
                problem = self._source.pointer_problem()
                if problem:  # CURRENT damaged: keep serving what is loaded
                    self._name = None
                    self.problem = f"{problem}; still serving {self._source.name_of(self._loaded)}"
                    log.error("%s", self.problem)
            if name and name != self._name:
                with self._lock:
                    if name != self._name:
                        self._name = name  # tried once, whether it loads or not
                        if name == self._source.name_of(self._loaded):  # CURRENT mended
                            self.problem = None
                            return self._loaded
                        try:
                            self._loaded = self._source.open(name)
                            self.problem = None
                            log.info("now serving %s", self._loaded.name)
                        except Exception as exc:  # keep serving the last good build
                            self.problem = (f"the build {name} did not load ({exc}); still "
                                            f"serving {self._source.name_of(self._loaded)}")
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

    def _pool(self, loaded: Build, query: str, mode: str, filters: Filters) -> _Pool:
        """The ranked candidate pool of a query, cached: a results page, its timeline and its
        next pages rank once."""
        key = (loaded.name, query, mode, filters)
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

    def _ranked(self, loaded: Build, query: str, mode: str, depth: int, filters: Filters
                ) -> _Pool:
        no_ids, no_scores = np.zeros(0, dtype=np.int64), np.zeros(0)
        sem_ids, sem_scores, kw_ids, kw_scores = no_ids, no_scores, no_ids, no_scores
        # Filters apply inside the retrievers, so a narrow filter still fills the pool.
        if filters and not loaded.admits(filters):
            return _Pool.ranked(loaded, [], [])
        vector = None
        if mode != "keyword":
            vector = self._query_vector(query, loaded.manifest.precision)
            sem_ids, sem_scores = loaded.semantic(vector, depth, filters)
        stems = analyse(query)
        if mode != "semantic":  # the hybrid fusion looks scores up: it needs no order
            kw_ids, kw_scores = loaded.keyword(stems, depth, filters, mode == "hybrid-rrf")
        if mode == "semantic":
            return _Pool.ranked(loaded, sem_ids, sem_scores, sem_scores)
        if mode == "hybrid-rrf":  # the textbook fusion, kept for comparison in `eval`
            similarity = dict(zip(sem_ids.tolist(), sem_scores.tolist()))
            keyword = dict(zip(kw_ids.tolist(), kw_scores.tolist()))
            fused = reciprocal_rank_fusion([list(similarity), list(keyword)])
            return _Pool.ranked(loaded, [pid for pid, _ in fused], [score for _, score in fused],
                                [similarity.get(pid, np.nan) for pid, _ in fused],
                                [keyword.get(pid, np.nan) for pid, _ in fused], in_order=True)
        return self._convex(loaded, stems, phrases(query), depth, filters,
                            (sem_ids, sem_scores), (kw_ids, kw_scores),
                            KEYWORD if mode == "keyword" else HYBRID, vector)

    @staticmethod
    def _convex(loaded: Build, stems: list[str], pairs: list[str], depth: int,
                filters: Filters, semantic: tuple[np.ndarray, np.ndarray],
                keyword: tuple[np.ndarray, np.ndarray], weights: Weights,
                vector: np.ndarray | None = None) -> _Pool:
        """Candidates of both lists (ids, scores) by the weighted sum of their min-max normalised
        similarity, own BM25 and article BM25 (Bruch et al. 2023 found such a convex combination
        better than RRF; it is here too, on every eval set), and of their article's phrase BM25
        (for the query's word pairs) over the best candidate's. A candidate's similarity or
        BM25 is NaN where that list did not retrieve it."""
        art_ids, art_scores = loaded.article_keyword(stems, depth, filters)
        order = np.argsort(art_ids, kind="stable")
        art_ids, art_scores = art_ids[order], min_max_array(art_scores)[order]
        candidates = distinct(semantic[0], keyword[0])
        about = loaded.describe(candidates) if len(candidates) else Described.empty()
        owners = about.owners
        fused = weights.article_keyword * _lookup(art_ids, art_scores, owners)
        phrase_ids, phrase_scores = loaded.phrases(pairs, distinct(owners))
        said = _lookup(phrase_ids, phrase_scores, owners)  # each candidate's article's, or 0
        if len(said) and said.max() > 0:
            fused += weights.phrase * (said / said.max())
        raw = []
        for (ids, scores), weight in ((semantic, weights.semantic),
                                      (keyword, weights.passage_keyword)):
            where = np.searchsorted(candidates, ids)
            fused[where] += weight * min_max_array(scores)
            raw.append(np.full(len(candidates), np.nan))
            raw[-1][where] = scores
        if weights.lead and vector is not None and len(candidates):
            fused += weights.lead * _lead_scores(loaded, vector, owners, fused)
        fused /= weights.total
        return _Pool.ranked(loaded, candidates, fused, raw[0], raw[1], about=about)

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
        filters = _resolved(loaded, filters)
        pool = self._pool(loaded, query, mode, filters)
        if recency:
            pool = _boost_recent(loaded, pool, recency)
        # heads: where in the pool each result's best passage is, in result order.
        stories, owners = pool.about.stories, pool.about.owners
        if group == "article":  # one result per story: an article and its syndicated copies
            heads = first_places(stories)
        else:
            heads = np.arange(len(pool.ids))
        total = len(heads)
        matching = None
        if mode != "semantic":  # the results with at least one passage holding its words
            worded = ~np.isnan(pool.keyword)
            matching = len(distinct(stories[worded])) if group == "article" \
                else int(worded.sum())
        if sort == "date":  # newest first; undated last; equal days keep their relevance order
            heads = heads[:DATE_SORTED]
            day = pool.about.days[heads]
            heads = heads[np.argsort(np.where(np.isnan(day), np.inf, -day), kind="stable")]
        shown = heads[(page - 1) * k: page * k].tolist()
        # Each result's other passages of the same article, best first (a story also holds its
        # copies', which are listed as copies instead).
        owns = [np.flatnonzero((stories == stories[at]) & (owners == owners[at]))[1:].tolist()
                if group == "article" else [] for at in shown]
        # What a result may show instead of its best passage: its article's next ones in the
        # pool that hold the question's words (answers.py; semantic mode has no word counts).
        worded = ~np.isnan(pool.keyword) if mode != "semantic" else np.ones(len(pool.ids), bool)
        choices = [[head, *[at for at in own if worded[at]][:ANSWER_CHOICES - 1]]
                   for head, own in zip(shown, owns)]
        found = loaded.passages({int(pool.ids[at]) for choice, own in zip(choices, owns)
                                      for at in [*choice, *own[:MORE_SHOWN]]})
        stems = query_stems(query)
        weights = loaded.idf(stems)
        hits, picks, keys = [], [], []
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
            copies = tuple(loaded.story_copies(article.id)) \
                if group == "article" and pool.about.shared[head] else ()
            hits.append(Hit((page - 1) * k + len(hits) + 1, float(pool.scores[head]), pid,
                            passage, article, lights, similarity, keyword, more,
                            len(own), copies))
            # One result per story shows more of it; a passage result shows the passage ranked.
            picks.append(around(passage, lights) if group == "article" else None)
            keys.append(int(owners[head]))
        hits = _widened(loaded, hits, picks, stems)
        hits = [replace(h, thread_stories=int(n))
                for h, n in zip(hits, loaded.thread_stories(np.array(keys, dtype=np.int64)))]
        # A passage found by its words alone: its similarity, for display.
        unmeasured = [h.passage_id for h in hits if h.similarity is None] \
            if mode != "keyword" else []
        if unmeasured:
            vector = self._query_vector(query, loaded.manifest.precision)[0]
            measured = dict(zip(unmeasured,
                                (loaded.vectors(np.array(unmeasured)) @ vector).tolist()))
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
                 interval: str = "auto", stories: int = TIMELINE_STORIES, share: bool = False
                 ) -> Timeline:
        """The `stories` stories that best match the query, counted per period of their date
        (see timelines)."""
        return self.timelines(query, mode, filters, interval, stories, share)[0]

    def timelines(self, query: str, mode: str = DEFAULT_MODE, filters: Filters = Filters(),
                  interval: str = "auto", stories: int = TIMELINE_STORIES, share: bool = False,
                  compare: Sequence[str] = ()) -> list[Timeline]:
        """The `stories` stories that best match the query, counted per period of their date;
        with share, each period also holds how many stories the archive has there (within the
        filters). compare: up to MAX_COMPARED more questions, counted on the same periods, one
        timeline each after the query's."""
        queries = [check_query(q, 1)[0] for q in (query, *compare)]
        if len(queries) > MAX_COMPARED + 1:
            raise QueryError(f"at most {MAX_COMPARED} questions to compare with, got "
                             f"{len(queries) - 1}")
        mode, interval = check_mode(mode), check_interval(interval)
        stories = _whole_number("stories", stories, 1, CANDIDATES)
        loaded = self._current()
        filters = _resolved(loaded, filters)
        series = []
        for q in queries:
            about = self._pool(loaded, q, mode, filters).about
            days = about.days[first_places(about.stories)[:stories]]  # NaN: undated
            series.append([date.fromordinal(int(d)).isoformat() if d == d else "" for d in days])
        found = [replace(t, query=q) for t, q in zip(count_together(series, interval), queries)]
        if share:
            story, day = loaded.story_days(filters)
            found = [t.with_totals(story, day) for t in found]
        return found

    def thread(self, article_id: str) -> list[ThreadStory]:
        """The stories of the article's thread, first report first, each with its copies, its
        lead passage and the words it adds: those of its headline and lead that no earlier
        story of the thread has, the rarest first. [] if the article has no thread recorded."""
        loaded = self._current()
        stories: dict[str, list[tuple[Article, str]]] = {}
        for article, story, lead in loaded.thread(article_id):
            stories.setdefault(story, []).append((article, lead))
        seen: set[str] = set()
        found = []
        for members in stories.values():
            (article, lead), copies = members[0], tuple(a for a, _ in members[1:])
            words = {word_stem(w): w for w in reversed(_LETTERS.findall(f"{article.title}\n{lead}"))
                     if w.lower() not in STOPWORDS}
            new = [s for s in words if s not in seen]
            weights = loaded.idf(new) if new and seen else {}
            adds = tuple(words[s] for s in sorted(new, key=lambda s: (-weights.get(s, 0), s))
                         [:THREAD_ADDS]) if seen else ()
            seen.update(words)
            found.append(ThreadStory(article, copies, lead, adds))
        return found

    def facets(self, query: str, mode: str = DEFAULT_MODE, filters: Filters = Filters(),
               stories: int = TIMELINE_STORIES, top: int = FACETS_SHOWN) -> Facets:
        """The outlets and the words most frequent among the `stories` stories that best match
        the query: outlets by stories, words by the stories whose best passage holds them,
        weighed by how rare they are in the archive (BM25's IDF), the question's own left out."""
        query, _ = check_query(query, 1)
        mode = check_mode(mode)
        stories = _whole_number("stories", stories, 1, CANDIDATES)
        loaded = self._current()
        pool = self._pool(loaded, query, mode, _resolved(loaded, filters))
        heads = first_places(pool.about.stories)[:stories]
        found = loaded.passages([int(pool.ids[at]) for at in heads])
        outlets = Counter(a.source for _, a in found.values() if a.source)
        words = [set(_LETTERS.findall(f"{a.title}\n{p.text}")) for p, a in found.values()]
        forms = Counter(w for held in words for w in held)  # a form -> the stories with it
        asked = set(query_stems(query))
        stem_of = {w: stem for w in forms
                   if w.lower() not in STOPWORDS and (stem := word_stem(w)) not in asked}
        stories_with = Counter(stem for held in words for stem in {stem_of.get(w) for w in held}
                               if stem is not None)  # a stem -> the stories with it
        common = sorted(stem for stem, n in stories_with.items() if n > 1)
        weights = loaded.idf(common) if common else {}
        ranked = sorted(common, key=lambda st: (-stories_with[st] * weights.get(st, 0.0), st))
        shown = set(ranked[:top])
        best: dict[str, str] = {}  # a stem -> its commonest form (lower case, shorter on a tie)
        order = lambda w: (forms[w], w.islower(), -len(w), w)  # noqa: E731
        for w, stem in stem_of.items():
            if stem in shown and (stem not in best or order(w) > order(best[stem])):
                best[stem] = w
        words_ = [(best[st], stories_with[st]) for st in ranked[:top]]
        return Facets(len(found), sorted(outlets.items(), key=lambda o: (-o[1], o[0]))[:top],
                      words_, loaded.entity_counts(pool.about.owners[heads], ENTITIES_SHOWN))

    def article_passages(self, article_id: str) -> list[tuple[int, Passage]]:
        """(passage id, passage) of an article, in order."""
        return self._current().article_passages(article_id)

    def sources(self) -> list[tuple[str, int]]:
        """The outlets of the served index with their article counts, largest first."""
        return self._current().sources

    def check_filters(self, filters: Filters) -> Filters:
        """filters as the served index resolves them; QueryError for an outlet, a language or
        an entity it does not have."""
        return _resolved(self._current(), filters)

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
        build that CURRENT names, when it is not."""
        loaded = self._current()
        m = loaded.manifest
        day = lambda d: None if d != d else date.fromordinal(int(d)).isoformat()  # noqa: E731
        return {"status": "degraded" if self.problem else "ok", "problem": self.problem,
                "index": loaded.name, "model": m.model, "dimension": m.dimension,
                "articles": m.articles, "passages": m.passages, "outlets": len(loaded.sources),
                "oldest": day(loaded.oldest), "newest": day(loaded.newest),
                "built_at": m.built_at, "store": m.store}


def _widened(loaded: Build, hits: list[Hit], spans: list[tuple[int, int] | None],
             stems: frozenset[str]) -> list[Hit]:
    """The hits showing, instead of their passages, their best sentences with the sentences
    around them (answers.window), after their article's opening sentences where the best one is
    not among them (answers.opening); spans: the characters of each hit's article to read for it."""
    wanted = [(i, hit.article.id, span) for i, (hit, span) in enumerate(zip(hits, spans)) if span]
    if not wanted:
        return hits
    # An excerpt that starts the article holds its opening; the others' openings are read too.
    excerpts = loaded.excerpts([(aid, start, end) for _, aid, (start, end) in wanted]
                               + [(aid, 0, LEAD_READ) for _, aid, (start, _) in wanted if start])
    openings = iter(excerpts[len(wanted):])
    hits = list(hits)
    for (i, aid, (start, end)), text in zip(wanted, excerpts):
        start_text = next(openings) if start else text[:LEAD_READ]
        hit = hits[i]
        lead_end, lead_words = opening(start_text, len(start_text) < LEAD_READ)
        if not lead_end or hit.passage.start + hit.highlights.sentence[0] < lead_end:
            lead_end = lead_words = 0  # the best sentence opens the article: one window
        passage, lights = window(hit.passage, hit.highlights, text, start,
                                 len(text) < end - start, stems, SHOWN_WORDS - lead_words,
                                 lead_end)
        opened, terms = None, ()
        if lead_end:
            opened = Passage(hit.passage.article_id, 0, 0, lead_end, start_text[:lead_end])
            terms = tuple((s, e) for s, e, _ in matched_words(opened.text, stems)) \
                if stems else ()
            between = text[lead_end - start:passage.start - start]
            if start <= lead_end and not between.strip():  # the window follows on: one text
                passage, lights = _joined(opened, terms, between, passage, lights)
                opened, terms = None, ()
        hits[i] = replace(hit, passage=passage, highlights=lights, lead=opened, lead_terms=terms)
    return hits


def _joined(lead: Passage, terms: tuple[tuple[int, int], ...], between: str, passage: Passage,
            lights: Highlights) -> tuple[Passage, Highlights]:
    """The lead and the passage that follows it (after `between`, whitespace) as one passage."""
    shift = len(lead.text) + len(between)
    moved = tuple((s + shift, e + shift) for s, e in lights.terms)
    sentence = None if lights.sentence is None else \
        (lights.sentence[0] + shift, lights.sentence[1] + shift)
    return (Passage(passage.article_id, passage.position, lead.start, passage.end,
                    lead.text + between + passage.text),
            replace(lights, terms=terms + moved, sentence=sentence))
