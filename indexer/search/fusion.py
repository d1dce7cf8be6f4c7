"""Fusing ranked lists into one: by normalised scores (the default), or by ranks alone (RRF)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Sequence

import numpy as np

RRF_K = 60  # Cormack et al. 2009: damps the weight of the very first ranks

@dataclass(frozen=True)
class Weights:
    """What a fused score weighs: a passage's similarity in meaning, its own BM25, its whole
    article's BM25, its article's BM25 over the question's pairs of successive words
    ("formally arrested", "Lee Jae-yong") over the best candidate's, and the similarity of its
    article's opening passage (for the LEAD_ARTICLES best articles: news says its main facts
    first). Each list's scores are min-max scaled first; the sum is divided by the weights'
    total, so scores stay in 0..1."""

    semantic: float
    passage_keyword: float
    article_keyword: float
    phrase: float
    lead: float = 0.0

    @property
    def total(self) -> float:
        return self.semantic + self.passage_keyword + self.article_keyword + self.phrase \
            + self.lead


# Hybrid: meaning, and the words mostly over the whole article, where a question's words are
# spread around the passage that answers it. Chosen on all three eval sets at once, among round
# values: better on each than meaning and words weighed the same (docs/history/benchmarks.md,
# "Answers on top"); RRF scored lower on each. The opening passage's meaning: better on both
# news sets, SciFact unchanged.
HYBRID = Weights(semantic=0.5, passage_keyword=0.1, article_keyword=0.6, phrase=0.1, lead=0.15)
LEAD_ARTICLES = 100  # the best articles whose opening passage is weighed (its vector is read)
# Keyword mode: BM25 of the passage and of its whole article alike, and the phrases: better
# than the passage's alone on each eval set (long articles answer with more than one passage).
KEYWORD = Weights(semantic=0.0, passage_keyword=0.5, article_keyword=0.5, phrase=0.05)


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
