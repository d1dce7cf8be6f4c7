"""Ranking candidates: the pool a page is cut from, fusion of the retrievers' scores, recency."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from indexer.filters import Filters, check_languages, resolve_sources
from indexer.query import Query
from indexer.retrieval.backend import Build, Described, Lists
from indexer.retrieval.local import distinct, first_places
from indexer.search.checks import DATE_SORTED
from indexer.search.fusion import LEAD_ARTICLES, Weights, min_max_array


@dataclass(frozen=True)
class Pool:
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
               ) -> Pool:
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

    def reordered(self, order: np.ndarray, scores: np.ndarray) -> Pool:
        """The pool in that order, with new scores (given in the old order)."""
        return Pool(self.ids[order], scores[order], self.similarity[order],
                     self.keyword[order], self.about.take(order))

    def entry(self, at: int) -> tuple[int, float, float | None, float | None]:
        """(passage id, score, similarity or None, keyword score or None) of the one at `at`."""
        sim, kw = float(self.similarity[at]), float(self.keyword[at])
        return (int(self.ids[at]), float(self.scores[at]), None if sim != sim else sim,
                None if kw != kw else kw)

    def entries(self) -> list[tuple[int, float, float | None, float | None]]:
        return [self.entry(at) for at in range(len(self.ids))]


def resolved(loaded: Build, filters: Filters) -> Filters:
    """filters with outlets as the index names them; QueryError for an outlet or a language
    the index does not have."""
    filters = check_languages(resolve_sources(filters, loaded.sources), loaded.languages)
    return loaded.check_entities(filters)


def boost_recent(loaded: Build, pool: Pool, half_life: int) -> Pool:
    """The pool re-scored by 2^(-age / half_life), age in days before the index's newest article;
    an undated article counts as old as the oldest. Equal scores keep their order."""
    day = pool.about.days
    age = loaded.newest - np.where(np.isnan(day), loaded.oldest, day)
    factor = np.where(np.isnan(age), 1.0, 0.5 ** (np.nan_to_num(age) / half_life))
    scores = pool.scores * factor
    return pool.reordered(np.argsort(-scores, kind="stable"), scores)


def lead_scores(loaded: Build, vector: np.ndarray, owners: np.ndarray, fused: np.ndarray
                 ) -> np.ndarray:
    """For each candidate (its article's key in owners), the similarity of its article's
    opening passage to the query, min-max scaled over the LEAD_ARTICLES best articles by fused
    score; 0 for the others."""
    ranked = owners[np.argsort(-fused, kind="stable")]
    best = np.sort(ranked[first_places(ranked)[:LEAD_ARTICLES]])
    scaled = min_max_array(loaded.lead_similarity(best, vector))
    return lookup(best, scaled, owners)


def lookup(keys: np.ndarray, values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """values[i] where keys[i] is each wanted key, 0 where no key is: keys ascending."""
    if not len(keys) or not len(wanted):
        return np.zeros(len(wanted))
    at = np.searchsorted(keys, wanted).clip(max=len(keys) - 1)
    return np.where(keys[at] == wanted, values[at], 0.0)



def convex(loaded: Build, pairs: list[str], lists: Lists, weights: Weights,
           vector: np.ndarray | None = None) -> Pool:
    """Candidates of both passage lists (ids, scores) by the weighted sum of their min-max
    normalised similarity, own BM25 and article BM25 (Bruch et al. 2023 found such a convex
    combination better than RRF; it is here too, on every eval set), and of their article's
    phrase BM25 (for the query's word pairs) over the best candidate's. A candidate's
    similarity or BM25 is NaN where that list did not retrieve it."""
    semantic, keyword = lists.semantic, lists.keyword
    art_ids, art_scores = lists.articles
    order = np.argsort(art_ids, kind="stable")
    art_ids, art_scores = art_ids[order], min_max_array(art_scores)[order]
    candidates = distinct(semantic[0], keyword[0])
    about = loaded.describe(candidates) if len(candidates) else Described.empty()
    owners = about.owners
    fused = weights.article_keyword * lookup(art_ids, art_scores, owners)
    phrase_ids, phrase_scores = loaded.phrases(pairs, distinct(owners))
    said = lookup(phrase_ids, phrase_scores, owners)  # each candidate's article's, or 0
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
        fused += weights.lead * lead_scores(loaded, vector, owners, fused)
    fused /= weights.total
    return Pool.ranked(loaded, candidates, fused, raw[0], raw[1], about=about)


def result_heads(pool: Pool, group: str, sort: str) -> tuple[np.ndarray, int]:
    """(where in the pool each result's best passage is, in result order; how many results).
    group="article": one result a story (an article and its syndicated copies); sort="date":
    the DATE_SORTED most relevant, newest first, undated last, equal days in their relevance
    order."""
    heads = first_places(pool.about.stories) if group == "article" else np.arange(len(pool.ids))
    total = len(heads)
    if sort == "date":
        heads = heads[:DATE_SORTED]
        day = pool.about.days[heads]
        heads = heads[np.argsort(np.where(np.isnan(day), np.inf, -day), kind="stable")]
    return heads, total


def constrained(build: Build, pool: Pool, query: Query) -> Pool:
    """The pool without the passages of the articles the query's operators drop (query.py)."""
    kept = admitted(build, pool.ids, pool.about.owners, query)
    return pool.reordered(np.flatnonzero(kept), pool.scores)


def admitted(build: Build, ids: np.ndarray, owners: np.ndarray, query: Query) -> np.ndarray:
    """For each passage id (owners: its article's key), whether the query's operators keep its
    article. The build's index of articles by their words settles a word (Build.holding_word)
    and drops an article without the stems of a required phrase; what is left is read: the
    headlines, and the texts where a phrase is looked for (a quoted headline asked of
    NewsArticles read 600 whole articles, 160 ms, and "+trump -obama" 1,100, 590 ms)."""
    ids, owners = np.asarray(ids, dtype=np.int64), np.asarray(owners, dtype=np.int64)
    keys = distinct(owners)
    kept = np.ones(len(keys), dtype=bool)
    required, excluded, doubtful = [], [], np.zeros(len(keys), dtype=bool)
    for term, wanted in [(t, True) for t in query.required] + [(t, False) for t in query.excluded]:
        held = build.holding_word(term.word) if term.word is not None else None
        if held is not None:  # exact
            kept &= np.isin(keys, held) == wanted
            continue
        held = build.holding_every(term.stems) if term.stems else None
        holds = None if held is None else np.isin(keys, held)
        if wanted:
            required.append(term)
            kept &= True if holds is None else holds
        else:
            excluded.append(term)
            doubtful |= True if holds is None else holds
    read = kept & (doubtful | bool(required))  # the rest kept or dropped already
    if read.any():
        kept[read] = _read_admits(build, ids, owners, keys[read], Query("", tuple(required),
                                                                         tuple(excluded)))
    return np.isin(owners, keys[kept])


def _read_admits(build: Build, ids: np.ndarray, owners: np.ndarray, keys: np.ndarray,
                 query: Query) -> np.ndarray:
    """For each article (keys, ascending), whether query admits it: read with its headline,
    and its text where a term is not for headlines alone."""
    at = np.flatnonzero(np.isin(owners, keys))
    at = at[first_places(owners[at])]  # one passage an article names it
    found = build.passages(ids[at].tolist())
    article = {int(owners[i]): found[int(ids[i])][1] for i in at.tolist() if int(ids[i]) in found}
    named = [article[k] for k in keys.tolist() if k in article]
    texts = build.excerpts([(a.id, 0, 1 << 30) for a in named]) \
        if not all(t.title for t in (*query.required, *query.excluded)) else [""] * len(named)
    admits = {a.id: query.admits(a.title, text) for a, text in zip(named, texts)}
    return np.array([k in article and admits[article[k].id] for k in keys.tolist()], bool)
