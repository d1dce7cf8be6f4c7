"""Fusing ranked lists into one: by normalised scores (the default), or by ranks alone (RRF)."""

from __future__ import annotations

from typing import Hashable, Sequence

import numpy as np

RRF_K = 60  # Cormack et al. 2009: damps the weight of the very first ranks

# Weights of the hybrid score: the passage's similarity in meaning, its own BM25 and its whole
# article's BM25. Meaning and words weigh the same; the words' half is split between the
# passage and its article, because the query's words may sit around the passage that answers.
# Chosen on the eval sets (README, "Evaluation") among a handful of round values, not fitted.
SEMANTIC_WEIGHT, PASSAGE_KEYWORD_WEIGHT, ARTICLE_KEYWORD_WEIGHT = 0.5, 0.25, 0.25
# And a small bonus for the article that holds the question's words in its order (the BM25 of
# its pairs of successive words, over the best among the candidates'): "formally arrested",
# "Lee Jae-yong". It lifted hybrid nDCG@10 on both eval sets (README, "Evaluation"); more
# weight gave less on the news set. The sum is divided by all the weights: hybrid scores stay
# in 0..1.
PHRASE_WEIGHT = 0.05


def reciprocal_rank_fusion(rankings: Sequence[Sequence[Hashable]], k: int = RRF_K
                           ) -> list[tuple[Hashable, float]]:
    """Items of all rankings by the sum of 1 / (k + rank) over the rankings that hold them.

    Ties keep the order in which items were first met, rankings taken in the order given.
    """
    scores: dict[Hashable, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])


def min_max_array(scores: np.ndarray) -> np.ndarray:
    """A retrieved list's scores mapped onto 0 (its last) .. 1 (its first); all 1 if equal.

    An item the list did not retrieve scores 0, as low as its last: a score of one retriever
    (a cosine, a BM25) means nothing on the other's scale until both are put on one.
    """
    if not len(scores):
        return scores.astype(np.float64)
    low, span = scores.min(), scores.max() - scores.min()
    return (scores - low) / span if span else np.ones(len(scores))
