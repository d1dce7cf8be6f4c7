"""A batch of questions beside the same questions searched one by one, in one run.

Usage: python bench/batch.py --index-dir IX [--questions 1000]
           [--queries ../shared/data/newsarticles.jsonl] [--k 3]

Takes the first QUESTIONS headlines of the queries file (JSON Lines with a "title") and times
news-search's batch (indexer.features.batch.answer_all, rows written as CSV to memory)
against a plain
loop of Searcher.search over the same questions, alternating, twice each; prints questions a
second and the CSV's size.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.search_latency import machine  # noqa: E402
from indexer import Searcher  # noqa: E402
from indexer.features.batch import Question, answer_all  # noqa: E402
from indexer.features.export import write_rows  # noqa: E402

DEFAULT_QUERIES = Path(__file__).resolve().parents[2] / "shared" / "data" / "newsarticles.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--k", type=int, default=3)
    args = parser.parse_args()
    with open(args.queries) as lines:
        titles = [json.loads(line)["title"] for line, _ in zip(lines, range(args.questions))]
    questions = [Question(t, n) for n, t in enumerate(titles, 1) if t.strip()]
    searcher = Searcher(args.index_dir)
    searcher.search("warm up", 1)
    print(machine())
    print(f"{len(questions)} questions over {searcher.manifest.articles:,} articles, k={args.k}")
    for round_ in range(2):
        searcher._pools.clear()  # each run ranks afresh
        started = time.perf_counter()
        for q in questions:
            searcher.search(q.text, args.k)
        plain = time.perf_counter() - started
        searcher._pools.clear()
        out = io.StringIO()
        started = time.perf_counter()
        rows = write_rows(answer_all(searcher, questions, args.k), out, "csv")
        batch = time.perf_counter() - started
        print(f"round {round_ + 1}: batch {len(questions) / batch:.1f} questions/s "
              f"({batch:.1f} s, {rows} rows, {len(out.getvalue()) / 1e6:.1f} MB of CSV); "
              f"one by one {len(questions) / plain:.1f} questions/s ({plain:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
