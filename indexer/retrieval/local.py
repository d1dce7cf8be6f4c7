"""The local index: a build folder of FAISS vectors, bm25s keyword indexes and SQLite, opened."""

from __future__ import annotations

import functools
import logging
import threading
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np

from indexer.articles import Article
from indexer.retrieval.backend import Build, Described, Ranked
from indexer.chunking import Layout, Passage
from indexer.dates import day_number
from indexer.errors import (AmbiguousNameError, IndexCorruptError, IndexMismatchError,
                            IndexNotFoundError, QueryError)
from indexer.filters import Filters
from indexer.terms import STOPWORD_STEMS
from indexer.storage.indexdir import builds, current_build, current_name, read_current
from indexer.storage.keywords import load_keyword_indexes, load_stopwords
from indexer.storage.manifest import Manifest
from indexer.storage.database import MetadataReader
from indexer.storage.vectors import FaissStore

FILTERS_CACHED = 16  # filters whose passage ids are kept (a page, its timeline, next pages)

log = logging.getLogger(__name__)


def distinct(*arrays: np.ndarray) -> np.ndarray:
    """The values found in the arrays, each once, ascending: np.union1d, by one sort (numpy
    2.4's np.unique hashes, 4x slower on a search's 2,000 candidates)."""
    values = np.sort(np.concatenate(arrays))
    if not len(values):
        return values.astype(np.int64)
    return values[np.concatenate(([True], values[1:] != values[:-1]))]


def first_places(values: np.ndarray) -> np.ndarray:
    """Where each value first appears in values (integer codes: a ranked list's stories or
    articles, each one's best entry), in order."""
    if not len(values):
        return np.zeros(0, dtype=np.intp)
    codes = values - values.min()
    where = np.arange(len(codes))
    first = np.full(int(codes.max()) + 1, len(codes))  # code -> its first place
    np.minimum.at(first, codes, where)  # (3x faster than np.unique(return_index) here)
    return np.flatnonzero(first[codes] == where)


class LocalBuild(Build):
    """One build folder, opened: its arrays in memory, its files mapped. Articles are known by
    their SQLite row ids."""

    def __init__(self, folder: Path, model: str):
        self.folder = folder
        self.name = str(folder)
        self._lock = threading.Lock()
        self._filtered: OrderedDict[Filters, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self.manifest = Manifest.read(folder)
        self.manifest.check_model(model, folder)
        self.store = FaissStore.load(folder, self.manifest.dimension, mapped=True)
        self.meta = MetadataReader(folder)
        self.keywords, self.article_keywords, self.phrase_keywords = load_keyword_indexes(folder)
        self.stopwords = load_stopwords(folder)  # None in a build made before them
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
            self.days[rowid] = day_number(day)
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
                or len(self.article_keywords) != articles or len(self.phrase_keywords) != articles \
                or len(self.stopwords or ()) not in (0, articles):
            raise IndexCorruptError(
                f"index {folder} is inconsistent: manifest says {self.manifest.articles} articles"
                f" and {self.manifest.passages} passages, the database holds {articles} and "
                f"{passages}, the vectors {len(self.store)}, the keyword index "
                f"{len(self.keywords)}: rebuild it with "
                "`news-search index PATH`")

    @functools.cached_property
    def languages(self) -> list[tuple[str, int]]:
        """The articles' languages with their counts, largest first (a build never changes)."""
        return self.meta.languages()

    @functools.cached_property
    def sources(self) -> list[tuple[str, int]]:
        """The outlets with their article counts, largest first (a build never changes)."""
        return self.meta.sources()

    def _allowed(self, filters: Filters) -> tuple[np.ndarray, np.ndarray] | None:
        """The passages and the articles that pass the filters (ids ascending), or None for no
        filter; the last few asked for are kept."""
        if not filters:
            return None
        with self._lock:
            if filters in self._filtered:
                self._filtered.move_to_end(filters)
                return self._filtered[filters]
        passages = np.array(self.meta.filtered_passages(filters), dtype=np.int64)
        allowed = passages, distinct(self.owners[passages])
        with self._lock:
            self._filtered[filters] = allowed
            while len(self._filtered) > FILTERS_CACHED:
                self._filtered.popitem(last=False)
        return allowed

    def probe(self) -> None:
        self.meta.probe()

    def admits(self, filters: Filters) -> bool:
        allowed = self._allowed(filters)
        return allowed is None or len(allowed[0]) > 0

    def semantic(self, vector: np.ndarray, depth: int, filters: Filters) -> Ranked:
        allowed = self._allowed(filters)
        scores, ids = self.store.search(vector, depth, None if allowed is None else allowed[0])
        found = ids[0] >= 0
        return ids[0][found], scores[0][found].astype(np.float64)

    def keyword(self, stems: Sequence[str], depth: int, filters: Filters,
                ordered: bool = True) -> Ranked:
        allowed = self._allowed(filters)
        return self.keywords.top(stems, depth, None if allowed is None else allowed[0], ordered)

    def article_keyword(self, stems: Sequence[str], depth: int, filters: Filters) -> Ranked:
        allowed = self._allowed(filters)
        return self.article_keywords.top(stems, depth, None if allowed is None else allowed[1],
                                         False)

    def similar(self, vector: np.ndarray, bar: float, filters: Filters) -> Ranked:
        allowed = self._allowed(filters)
        ids, scores = self.store.above(vector, bar, None if allowed is None else allowed[0])
        return ids, scores.astype(np.float64)

    def holding(self, stem: str, filters: Filters) -> np.ndarray:
        allowed = self._allowed(filters)
        return self.article_keywords.holding(stem, None if allowed is None else allowed[1])

    def holding_word(self, stem: str) -> np.ndarray | None:
        held = self.holding_every([stem])  # as a word that is no stopword
        if stem not in STOPWORD_STEMS:
            return held
        stopwords = None if self.stopwords is None else self.stopwords.holding(stem)
        return None if stopwords is None else distinct(held, stopwords)

    def holding_every(self, stems: Sequence[str]) -> np.ndarray | None:
        every = None
        for stem in stems:  # each column read whole: exact
            held = np.sort(self.article_keywords.holding(stem))
            every = held if every is None else \
                every[np.isin(every, held, assume_unique=True)]
        return every

    def best_passages(self, keys: np.ndarray, vector: np.ndarray | None) -> Ranked:
        keys = np.asarray(keys, dtype=np.int64)
        if vector is None or not len(keys):
            return self._openings[keys], np.full(len(keys), np.nan)
        ids = np.flatnonzero(np.isin(self.owners, keys))
        scores = self.store.vectors(ids) @ np.asarray(vector, np.float32).reshape(-1)
        order = np.lexsort((ids, -scores))  # each article's nearest first, then by id
        ids, scores = ids[order], scores[order]
        first = first_places(self.owners[ids])
        at = dict(zip(self.owners[ids[first]].tolist(), first.tolist()))
        where = np.array([at[k] for k in keys.tolist()], dtype=np.int64)
        return ids[where], scores[where].astype(np.float64)

    def phrases(self, pairs: Sequence[str], articles: np.ndarray) -> Ranked:
        return self.phrase_keywords.matches(pairs)  # every match: the caller looks its own up

    def describe(self, ids: np.ndarray) -> Described:
        owners, stories = self.owners[ids], self.stories[ids]
        return Described(owners, stories, self.days[owners], self.id_rank[owners],
                         self.story_sizes[stories] > 1)

    def idf(self, stems: Sequence[str]) -> dict[str, float]:
        return self.keywords.idf(stems)

    def keyword_scores(self, stems: Sequence[str], ids: Sequence[int]) -> np.ndarray:
        return self.keywords.scores_of(stems, np.asarray(ids, dtype=np.int64))

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        return self.store.vectors(ids)

    @functools.cached_property
    def _openings(self) -> np.ndarray:
        """Article row id -> its opening passage's id (ids follow the passages' order)."""
        found = np.full(len(self.days), -1, dtype=np.int64)
        kept = np.flatnonzero(self.owners >= 0)
        first = kept[first_places(self.owners[kept])]  # each article's lowest passage id
        found[self.owners[first]] = first
        return found

    def lead_vectors(self, keys: np.ndarray) -> np.ndarray:
        return self.store.vectors(self._openings[keys])

    def passages(self, ids: Sequence[int] | set[int], layouts: dict[str, Layout] | None = None,
                 openings: Sequence[int] = ()) -> dict[int, tuple[Passage, Article]]:
        if len(openings):
            first = self._openings[np.asarray(openings, dtype=np.int64)]
            ids = {int(i) for i in ids} | set(first[first >= 0].tolist())
        return self.meta.passages(ids, layouts)

    def story_copies(self, article_ids: Sequence[str]) -> dict[str, list[Article]]:
        return {aid: found for aid in dict.fromkeys(article_ids)
                if (found := self.meta.story_copies(aid))}

    @functools.cached_property
    def _article_stories(self) -> np.ndarray:
        """Article row id -> its story code (-1: no such article)."""
        found = np.full(len(self.days), -1, dtype=np.int64)
        kept = self.owners >= 0
        found[self.owners[kept]] = self.stories[kept]
        return found

    def story_days(self, filters: Filters) -> tuple[np.ndarray, np.ndarray]:
        allowed = self._allowed(filters)
        rows = np.flatnonzero(self._article_stories >= 0) if allowed is None else allowed[1]
        rows = rows[~np.isnan(self.days[rows])]
        return self._article_stories[rows], self.days[rows]

    @functools.cached_property
    def _thread_sizes(self) -> np.ndarray:
        """Article row id -> the stories in its thread (1 where none is recorded)."""
        sizes = np.ones(len(self.days), dtype=np.int64)
        pairs = np.array(self.meta.threads(), dtype=np.int64).reshape(-1, 2)
        if not len(pairs):
            return sizes
        rows, threads = pairs[:, 0], pairs[:, 1]
        stories = self._article_stories[rows]
        distinct = np.unique(np.stack([threads, stories]), axis=1)
        per_thread = dict(zip(*np.unique(distinct[0], return_counts=True)))
        sizes[rows] = [per_thread[t] for t in threads.tolist()]
        return sizes

    def thread_stories(self, keys: np.ndarray) -> np.ndarray:
        return self._thread_sizes[np.asarray(keys, dtype=np.int64)]

    def thread(self, article_id: str) -> list[tuple[Article, str, str]]:
        return self.meta.thread(article_id)

    def check_entities(self, filters: Filters) -> Filters:
        if not filters.entities:
            return filters
        self._need_entities()
        names = []
        for name in filters.entities:
            canonical = self.meta.entity_canonical(name)
            if canonical is None:
                raise self._unknown_entity(name)
            names.append(canonical)
        return replace(filters, entities=tuple(dict.fromkeys(names)))

    def entity(self, name: str) -> tuple[str, str, list[tuple[str, int]], np.ndarray] | None:
        self._need_entities()
        canonical = self.meta.entity_canonical(name)
        if canonical is None:
            error = self._unknown_entity(name)
            if isinstance(error, AmbiguousNameError):
                raise error
            return None
        kind, variants, rowids = self.meta.entity(canonical)
        return canonical, kind, variants, np.array(rowids, dtype=np.int64)

    def _need_entities(self) -> None:
        if not self.meta.has_entities():
            raise QueryError("this index was built without entities: rebuild or update it "
                             "with `news-search index PATH --entities`")

    def _unknown_entity(self, name: str) -> QueryError:
        """Why a name names no entity: no article gives it, or it is the surname of several
        people (each named)."""
        people = self.meta.people_surnamed(name)
        if people:
            listed = ", ".join(f"{p} ({n})" for p, n in people)
            return AmbiguousNameError(f"{name!r} is the surname of several people here, none "
                                      f"named most: {listed}; name one")
        return QueryError(f"no article names {name!r} (as a person, organisation or place): "
                          "GET /api/facets lists those the results name")

    def article_days(self, keys: np.ndarray) -> np.ndarray:
        return self.days[np.asarray(keys, dtype=np.int64)]

    def articles_by_key(self, keys: np.ndarray) -> list[Article]:
        return self.meta.articles_by_rowid([int(k) for k in keys])

    def entity_counts(self, keys: np.ndarray, top: int) -> list[tuple[str, str, int]]:
        return self.meta.entity_counts([int(k) for k in keys], top)

    def excerpts(self, spans: Sequence[tuple[str, int, int]]) -> list[str]:
        return self.meta.excerpts(spans)

    def article(self, article_id: str) -> Article | None:
        return self.meta.article(article_id)

    def article_passages(self, article_id: str) -> list[tuple[int, Passage]]:
        return self.meta.article_passages(article_id)

    def passage_articles(self) -> dict[int, str]:
        return self.meta.passage_articles()


def open_served(index_dir: Path, model: str) -> tuple[LocalBuild, str | None]:
    """The build that CURRENT names, opened; if CURRENT is damaged or its build's files are,
    the newest other build that opens (a server process started after a bad build serves what
    the others still serve), with the problem said. The first error when none opens."""
    try:
        current, error = current_build(index_dir), None
    except IndexNotFoundError as exc:
        if not builds(index_dir):
            raise
        current, error = None, exc
    if current is not None:
        try:
            return LocalBuild(current, model), None
        except IndexMismatchError:
            raise  # built with other settings: not damaged, and an older build is no answer
        except Exception as exc:  # noqa: BLE001 - a damaged file fails in many ways
            error = exc
    for folder in sorted(builds(index_dir), reverse=True):
        if folder == current:
            continue
        try:
            loaded = LocalBuild(folder, model)
        except Exception:  # noqa: BLE001, S112
            continue
        why = f"the build {current.name} that CURRENT names did not load ({error})" \
            if current is not None else read_current(index_dir)[1]
        problem = f"{why}; serving {folder.name}, the newest build that does"
        log.error("%s", problem)
        return loaded, problem
    raise error


class LocalBackend:
    """The build an index folder serves, for a Searcher: the name CURRENT holds, and the build
    opened."""

    def __init__(self, index_dir: Path, model: str):
        self.index_dir, self.model = Path(index_dir), model

    def current_name(self) -> str | None:
        return current_name(self.index_dir)

    def pointer_problem(self) -> str | None:
        """Why CURRENT names no build, when it does not."""
        return read_current(self.index_dir)[1]

    def open_served(self) -> tuple[LocalBuild, str | None]:
        """The build served (or the newest that loads, with the problem said)."""
        return open_served(self.index_dir, self.model)

    def open(self, name: str) -> LocalBuild:
        return LocalBuild(self.index_dir / name, self.model)

    @staticmethod
    def name_of(build: LocalBuild) -> str:
        return build.folder.name
