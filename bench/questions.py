"""Questions to an int8 index: the passages' int8 graph against the questions' own graph.

Usage: python bench/questions.py [--queries FILE.jsonl] [--n 1000] [--rounds 6]
           [--eval COLLECTION INDEX_DIR ...]

Embeds the headlines of the first N articles of FILE.jsonl (default: the shared union), one at a
time on one thread as a server does, through each graph in turn, ROUNDS times, and prints each
graph's median time a question and its vectors' cosine to float32's (mean and least). Then, for
each --eval pair (a BEIR collection and an int8 index of it, built with `news-search eval
COLLECTION --index-dir INDEX_DIR`), scores hybrid and semantic search with the questions embedded
by each int8 graph (the passages stay as indexed).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.search_latency import machine  # noqa: E402
from indexer import DEFAULT_MODEL  # noqa: E402
from indexer.features.evaluate import evaluate  # noqa: E402
from indexer.embedding.embedder import get_embedder  # noqa: E402

UNION = Path(__file__).resolve().parents[2] / "shared" / "data" / "news_union.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=Path, default=UNION)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--eval", nargs=2, action="append", default=[], type=Path,
                        metavar=("COLLECTION", "INDEX_DIR"))
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    print(f"# python {' '.join(sys.argv)}\n# {machine()}", flush=True)
    with args.queries.open(encoding="utf-8") as lines:
        titles = [t for t in (json.loads(line).get("title", "") for line in lines) if t.strip()]
    titles = titles[:args.n]
    embedder = get_embedder(DEFAULT_MODEL)  # the instance that evaluate's Searcher takes
    float32, passages, questions = (embedder._query_encoder(), embedder._int8_encoder(),
                                    embedder._question_encoder())
    if float32 is None or passages is None or questions is passages:
        raise SystemExit("the model's int8 graphs could not be made")
    graphs = {"passages' int8 graph": passages, "questions' graph": questions}
    reference = np.stack([float32.encode_one(t) for t in titles])
    times: dict[str, list[float]] = {name: [] for name in graphs}
    for _ in range(args.rounds):  # alternating, so that the machine's drift hits both alike
        for name, encoder in graphs.items():
            started = time.perf_counter()
            for title in titles:
                encoder.encode_batch([title])
            times[name].append((time.perf_counter() - started) * 1000 / len(titles))
    print(f"{len(titles)} headlines, {args.rounds} rounds, one question at a time, one thread")
    for name, encoder in graphs.items():
        cosines = (np.stack([encoder.encode_one(t) for t in titles]) * reference).sum(axis=1)
        print(f"{name} ({encoder.graph.name}): median {statistics.median(times[name]):.3f} ms a "
              f"question (rounds: {', '.join(f'{t:.3f}' for t in times[name])}); cosine to "
              f"float32 mean {cosines.mean():.5f}, least {cosines.min():.4f}", flush=True)
    for collection, index_dir in args.eval:
        for name, encoder in graphs.items():
            embedder._question = encoder  # what encode_query then uses for int8 questions
            report = evaluate(collection, ("hybrid", "semantic"), index_dir=index_dir)
            if report.precision != "int8":
                raise SystemExit(f"{index_dir} is not an int8 index")
            scores = "; ".join(f"{row.mode} nDCG@10 {row.ndcg_at_10:.4f}, Recall@100 "
                               f"{row.recall_at_100:.4f}" for row in report.rows)
            print(f"{collection.name}, questions through the {name}: {scores}", flush=True)


if __name__ == "__main__":
    main()
