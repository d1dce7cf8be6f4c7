"""Would Milvus' own fusion keep our quality? The local hybrid fusion with each list scaled as
Milvus' WeightedRanker scales it (norm_score: an inner product x as 0.5 + atan(x) / pi, a BM25
score as 2 atan(x) / pi) instead of min-max over the list, our weights unchanged, beside the
fusion as it is, on an eval set (issue 35: one `hybrid_search` would need its scaling).

Usage: python bench/milvus_fusion.py ../shared/eval/SET [--index-dir DIR]

Both are scored by `eval`'s own code over the same index (built into DIR, or reused from it).
Only the scaling changes: the lists, their depth, the weights and the leads' 100 articles are
the fusion's own.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import indexer.search.searcher as searcher_module  # noqa: E402
from indexer.features.evaluate import evaluate  # noqa: E402
from indexer.retrieval.backend import Described  # noqa: E402
from indexer.retrieval.local import distinct, first_places  # noqa: E402
from indexer.search.fusion import LEAD_ARTICLES  # noqa: E402
from indexer.search.ranking import Pool, convex, lookup  # noqa: E402


def inner(x: np.ndarray) -> np.ndarray:
    return 0.5 + np.arctan(x) / np.pi


def bm25(x: np.ndarray) -> np.ndarray:
    return 2 * np.arctan(x) / np.pi


def milvus_scaled(loaded, pairs, lists, weights, vector=None) -> Pool:  # noqa: ANN001
    """ranking.convex with Milvus' fixed scaling of each list in place of min-max."""
    (sem_ids, sem), (kw_ids, kw) = lists.semantic, lists.keyword
    art_ids, art_scores = lists.articles
    order = np.argsort(art_ids, kind="stable")
    candidates = distinct(sem_ids, kw_ids)
    about = loaded.describe(candidates) if len(candidates) else Described.empty()
    owners = about.owners
    fused = weights.article_keyword * lookup(art_ids[order], bm25(art_scores)[order], owners)
    fused += weights.phrase * bm25(lookup(*loaded.phrases(pairs, distinct(owners)), owners))
    raw = []
    for ids, scores, weight, scale in ((sem_ids, sem, weights.semantic, inner),
                                       (kw_ids, kw, weights.passage_keyword, bm25)):
        where = np.searchsorted(candidates, ids)
        fused[where] += weight * scale(scores)
        raw.append(np.full(len(candidates), np.nan))
        raw[-1][where] = scores
    if weights.lead and vector is not None and len(candidates):
        ranked = owners[np.argsort(-fused, kind="stable")]
        best = np.sort(ranked[first_places(ranked)[:LEAD_ARTICLES]])
        fused += weights.lead * lookup(best, inner(loaded.lead_similarity(best, vector)), owners)
    fused /= weights.total
    return Pool.ranked(loaded, candidates, fused, raw[0], raw[1], about=about)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("collection", type=Path)
    parser.add_argument("--index-dir", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = args.index_dir or Path(tmp)
        print(f"command: python bench/milvus_fusion.py {args.collection}"
              f"{f' --index-dir {args.index_dir}' if args.index_dir else ''}")
        for name, fusion in (("min-max (ours)", convex), ("Milvus' scaling", milvus_scaled)):
            searcher_module.convex = fusion
            row = evaluate(args.collection, modes=("hybrid",), index_dir=index_dir).rows[0]
            figures = {k: round(v, 4) for k, v in asdict(row).items()
                       if isinstance(v, float) and k != "median_ms"}
            print(f"{name}: {figures}", flush=True)


if __name__ == "__main__":
    main()
