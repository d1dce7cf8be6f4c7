"""The seam between searching and where an index lives: one opened build's retrieval and look-ups.

A build finds candidate passages (by meaning, by words, with filters given as values), says what
the search needs to know of each (its article, story and day), and reads passages and articles
by id. Fusion, highlighting, grouping, paging, timelines and caches are the Searcher's, above
this seam, the same for every backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from indexer.articles import Article
from indexer.chunking import Layout, Passage
from indexer.filters import Filters
from indexer.storage.manifest import Manifest

Ranked = tuple[np.ndarray, np.ndarray]  # ids (int64) and scores (float64), aligned
NONE: Ranked = (np.zeros(0, dtype=np.int64), np.zeros(0))


@dataclass(frozen=True)
class Lists:
    """What a ranking fuses: the passages by meaning, the passages by their words and the
    articles by their whole text's words (each empty where the mode reads none)."""

    semantic: Ranked = NONE
    keyword: Ranked = NONE
    articles: Ranked = NONE


@dataclass(frozen=True)
class Described:
    """What a search needs to know of candidate passages, aligned with their ids."""

    owners: np.ndarray  # int64: the article's key in this build
    stories: np.ndarray  # int64: equal for the articles of one story (syndicated copies)
    days: np.ndarray  # float64: the article's day (proleptic ordinal), NaN when undated
    ties: np.ndarray  # int64: equal scores rank by this (the article id's order), then passage id
    shared: np.ndarray  # bool: the story has other articles

    def take(self, order: np.ndarray) -> Described:
        """These rows in that order."""
        return Described(self.owners[order], self.stories[order], self.days[order],
                         self.ties[order], self.shared[order])

    @classmethod
    def empty(cls) -> Described:
        """No rows."""
        none = np.zeros(0, dtype=np.int64)
        return cls(none, none, np.zeros(0), none, np.zeros(0, dtype=bool))


class Build(ABC):
    """One complete, opened build of an index. A build never changes once published, so what
    it says may be cached."""

    name: str  # what /api/health names as the index served
    manifest: Manifest
    sources: list[tuple[str, int]]  # the outlets with their article counts, largest first
    languages: list[tuple[str, int]]  # the articles' languages ("" unknown) with their counts
    newest: float  # the newest and oldest article's day (proleptic ordinal), NaN if none
    oldest: float

    @abstractmethod
    def probe(self) -> None:
        """Ask the store for one row: an IndexerError saying why when it cannot answer now
        (what /api/health reports)."""

    @abstractmethod
    def admits(self, filters: Filters) -> bool:
        """Whether any passage passes the filters (cheap: searching need not start if not)."""

    @abstractmethod
    def semantic(self, vector: np.ndarray, depth: int, filters: Filters) -> Ranked:
        """The `depth` passages nearest the query vector (inner product), best first."""

    @abstractmethod
    def keyword(self, stems: Sequence[str], depth: int, filters: Filters,
                ordered: bool = True) -> Ranked:
        """The `depth` passages with the best BM25 for the stems (only those holding one);
        ordered=False: the same ones in any order."""

    @abstractmethod
    def article_keyword(self, stems: Sequence[str], depth: int, filters: Filters) -> Ranked:
        """The `depth` articles (by key) with the best BM25 of their whole text, in any order."""

    def retrieve(self, vector: np.ndarray | None, stems: Sequence[str] | None, depth: int,
                 filters: Filters, ordered: bool = True, articles: bool = True) -> Lists:
        """The lists a ranking fuses, `depth` each: by meaning (none without a vector), by the
        passages' words and, if articles, by the articles' (none without stems). Here one after
        the other; a backend whose calls cross a network may ask them at once."""
        return Lists(NONE if vector is None else self.semantic(vector, depth, filters),
                     NONE if stems is None else self.keyword(stems, depth, filters, ordered),
                     self.article_keyword(stems, depth, filters)
                     if stems is not None and articles else NONE)

    @abstractmethod
    def similar(self, vector: np.ndarray, bar: float, filters: Filters) -> Ranked:
        """Every passage whose similarity to the query vector is above bar, best first (what
        matches by meaning: search/matching.py)."""

    @abstractmethod
    def holding(self, stem: str, filters: Filters) -> np.ndarray:
        """The articles (keys, in any order) whose text holds the stem."""

    def holding_word(self, stem: str) -> np.ndarray | None:
        """The articles (keys, ascending) holding a word of this stem, stopwords included, in
        headline or text: exactly, or None where this backend cannot say it (the caller then
        reads the articles)."""
        return None

    def holding_every(self, stems: Sequence[str]) -> np.ndarray | None:
        """The articles (keys, ascending) whose text holds every one of the stems, or None
        where this backend cannot say it exactly (its lists of holders are cut short): then
        the caller reads the articles."""
        return None

    def holding_each(self, stems: list[str], filters: Filters) -> list[np.ndarray]:
        """For each stem, the articles (keys) whose text holds it: one holding() a stem, unless
        a backend reads them at once."""
        return [self.holding(stem, filters) for stem in stems]

    def worded(self, weights: dict[str, float], share: float, filters: Filters) -> np.ndarray:
        """The articles (keys, ascending) whose text holds stems carrying `share` of the
        weights' sum (weights: each stem's, as idf gives them)."""
        stems = list(weights)
        total = sum(weights.values())
        if not stems or total <= 0:
            return np.zeros(0, dtype=np.int64)
        held = self.holding_each(stems, filters)
        keys = np.concatenate(held)
        if not len(keys):
            return keys.astype(np.int64)
        # Each article's weight summed over its stems in their order (a stable sort; np.unique
        # hashes here, 2x slower on a common word's thousands of articles).
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
        carried = np.add.reduceat(np.repeat([weights[s] for s in stems],
                                            [len(h) for h in held])[order], starts)
        return keys[starts][carried >= share * total * (1 - 1e-9)]

    @abstractmethod
    def best_passages(self, keys: np.ndarray, vector: np.ndarray | None) -> Ranked:
        """For each article (by key), its passage nearest the query vector and that passage's
        similarity; without a vector, its opening passage (similarity NaN). Aligned with
        keys."""

    @abstractmethod
    def phrases(self, pairs: Sequence[str], articles: np.ndarray) -> Ranked:
        """Of these articles (keys, ascending), those that hold any of the word pairs, with their
        phrase BM25: keys ascending."""

    @abstractmethod
    def describe(self, ids: np.ndarray) -> Described:
        """Article, story and day of each passage id."""

    @abstractmethod
    def idf(self, stems: Sequence[str]) -> dict[str, float]:
        """Each stem's BM25 inverse document frequency over the passages."""

    @abstractmethod
    def keyword_scores(self, stems: Sequence[str], ids: Sequence[int]) -> np.ndarray:
        """The BM25 score of each of these passages for the stems, as the keyword list scores
        passages (0 for one holding none): for a passage shown that the list did not reach."""

    @abstractmethod
    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of these passages (float32, as searched)."""

    @abstractmethod
    def lead_vectors(self, keys: np.ndarray) -> np.ndarray:
        """The stored vectors of these articles' (by key) opening passages, in that order."""

    def lead_similarity(self, keys: np.ndarray, vector: np.ndarray) -> np.ndarray:
        """The inner product of the query vector (1, dimension) with the opening passage of
        each of these articles (by key), in that order."""
        return self.lead_vectors(keys) @ vector[0]

    @abstractmethod
    def passages(self, ids: Sequence[int] | set[int], layouts: dict[str, Layout] | None = None,
                 openings: Sequence[int] = ()) -> dict[int, tuple[Passage, Article]]:
        """The passages with these ids and their articles (without their text), by id; with
        them, in the same request, the first passage of each article whose key is in openings.
        layouts, if given, receives the sentences and leads found when their articles were
        indexed, by article id (those not stored are missing: the caller finds them in what it
        reads)."""

    @abstractmethod
    def story_copies(self, article_ids: Sequence[str]) -> dict[str, list[Article]]:
        """For each of these articles, the other articles of its story, oldest first (those
        with none are left out): asked for all of them at once."""

    @abstractmethod
    def story_days(self, filters: Filters) -> tuple[np.ndarray, np.ndarray]:
        """(story, day) of every dated article that passes the filters: what a timeline's
        share divides by."""

    @abstractmethod
    def thread_stories(self, keys: np.ndarray) -> np.ndarray:
        """For each article (by key), how many stories its thread holds (1: none other)."""

    @abstractmethod
    def thread(self, article_id: str) -> list[tuple[Article, str, str]]:
        """(article, story, first passage's text) of the article's thread, oldest first."""

    @abstractmethod
    def check_entities(self, filters: Filters) -> Filters:
        """filters with each entity as the index names it (any variant: entity_names.py);
        QueryError when one cannot be filtered on: none found with that name, or no entities
        in this index."""

    @abstractmethod
    def entity(self, name: str) -> tuple[str, str, list[tuple[str, int]], np.ndarray] | None:
        """The entity a name stands for: its name, kind, the names it was found as (with
        their articles) and the keys of the articles naming it; None if none is named so."""

    @abstractmethod
    def article_days(self, keys: np.ndarray) -> np.ndarray:
        """Each article's day (proleptic ordinal; NaN undated), by key."""

    @abstractmethod
    def articles_by_key(self, keys: np.ndarray) -> list[Article]:
        """The articles (without their text) of these keys, in that order."""

    @abstractmethod
    def entity_counts(self, keys: np.ndarray, top: int) -> list[tuple[str, str, int]]:
        """(kind, name, articles) most named among these articles, up to top of each kind."""

    @abstractmethod
    def excerpts(self, spans: Sequence[tuple[str, int, int]]) -> list[str]:
        """For each (article id, start, end), the article's text[start:end] ("" for an unknown
        article)."""

    @abstractmethod
    def article(self, article_id: str) -> Article | None:
        """The whole article with this id, or None."""

    @abstractmethod
    def article_passages(self, article_id: str) -> list[tuple[int, Passage]]:
        """(passage id, passage) of an article, in order."""

    @abstractmethod
    def passage_articles(self) -> dict[int, str]:
        """Every passage id with its article's id (for evaluation)."""
