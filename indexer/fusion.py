"""Reciprocal rank fusion: one ranking from several, by the ranks alone."""

from __future__ import annotations

from typing import Hashable, Sequence

RRF_K = 60  # Cormack et al. 2009: damps the weight of the very first ranks


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
