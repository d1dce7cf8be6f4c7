"""Which articles hold a question's words, asked of Milvus in one filter: the fewest sets of
stems that carry a share of the question's weight, each an AND of TEXT_MATCHes, ORed."""

from __future__ import annotations

from indexer.retrieval.milvus.client import token

MAX_SETS = 64  # sets one filter holds; a question with more is read stem by stem
MAX_STEPS = 4_096  # subsets looked at to find them


def needed_sets(weights: dict[str, float], share: float) -> list[list[str]] | None:
    """The least sets of stems whose weights sum to `share` of all (an article holding every
    stem of one matches); [] when there are no stems, None when there are more than MAX_SETS.
    Found as the complements of the largest sets of stems an article may lack, whose weights
    stay within the slack (1 - share of the sum): those are few, the rare stems being needed."""
    stems = sorted(weights, key=lambda s: (weights[s], s))
    total = sum(weights.values())
    if not stems or total <= 0:
        return []
    slack = total * (1 - share) + total * 1e-9
    lacking: list[list[str]] = []
    steps = 0

    def walk(start: int, chosen: list[str], used: float) -> bool:
        nonlocal steps
        steps += 1
        if steps > MAX_STEPS or len(lacking) > MAX_SETS:
            return False
        grown = False
        for at in range(start, len(stems)):
            if used + weights[stems[at]] > slack:
                break  # sorted by weight: none after it fits either
            grown = True
            if not walk(at + 1, [*chosen, stems[at]], used + weights[stems[at]]):
                return False
        if not grown and all(used + weights[s] > slack for s in stems if s not in chosen):
            lacking.append(chosen)  # nothing more may be lacking: a largest set
        return True

    if not walk(0, [], 0.0):
        return None
    return [[s for s in stems if s not in lack] for lack in lacking]


def text_match(field: str, sets: list[list[str]]) -> str:
    """The filter: an article's field holds every stem of one of the sets."""
    return " or ".join("(" + " and ".join(f"TEXT_MATCH({field}, '{token(s)}')" for s in group)
                       + ")" for group in sets)
