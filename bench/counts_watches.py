"""What comparing counts and watching searches cost: timelines (counts, shares, three questions
side by side), facets (top outlets and words), and checking watches against a build.

Usage: python bench/counts_watches.py --index-dir DIR --queries FILE.jsonl [--n 50]

Questions are headlines drawn from FILE (JSON Lines with "title"), the same for every figure.
Each figure is the median time of one call in this process over N questions, after one warm-up
pass (the question's ranked pool is cached by the searcher, so a timeline after a search, as on
the results page, costs less than the first call measured here: both are printed). The watches
are saved in a copy of the index folder, checked against a build they were not saved on (a
check against the build they were saved on costs nothing).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indexer import Searcher  # noqa: E402
from indexer.features.watches import Watches  # noqa: E402


def timed(call, items) -> float:
    times = []
    for item in items:
        started = time.perf_counter()
        call(item)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--n", type=int, default=50)
    args = parser.parse_args()
    titles = [t for line in args.queries.open() if (t := json.loads(line).get("title", "").strip())]
    random.seed(7)
    questions = random.sample(titles, args.n * 3)
    first, second, third = (questions[i::3] for i in range(3))
    searcher = Searcher(args.index_dir)
    searcher.search("warm up", 10)
    fresh = [q + " news" for q in first]  # not cached yet
    print(f"index {args.index_dir}: {searcher.health()['articles']} articles, "
          f"{searcher.health()['passages']} passages; {args.n} questions")
    print(f"timeline, the first call for a question: {timed(searcher.timeline, fresh):.1f} ms")
    for q in first:
        searcher.search(q, 10)  # as the results page does before its chart
    print(f"timeline after its search (cached pool): {timed(searcher.timeline, first):.1f} ms")
    print(f"timeline as shares: "
          f"{timed(lambda q: searcher.timeline(q, share=True), first):.1f} ms")
    def three(i: int):  # noqa: ANN202
        return searcher.timelines(first[i] + " x", share=True, compare=[second[i], third[i]])

    print(
        "three questions side by side, as shares (first calls): "
        f"{timed(three, range(args.n)):.1f} ms"
    )
    print(f"facets (after the search): {timed(searcher.facets, first):.1f} ms")
    with tempfile.TemporaryDirectory() as temp:
        copy = Path(temp) / "index"
        shutil.copytree(args.index_dir, copy, symlinks=True)
        watches = Watches(copy)
        saved = Searcher(copy)
        started = time.perf_counter()
        for i, q in enumerate(first):
            watches.save(saved, f"w{i}", q)
        save_ms = (time.perf_counter() - started) * 1000 / len(first)
        # A check meets a build it has not seen: name the build as another one.
        with watches.store.writing() as conn:
            conn.execute("UPDATE checks SET data = json_set(data, '$.index', 'an-older-build')")
        started = time.perf_counter()
        report = watches.check(saved)
        check_s = time.perf_counter() - started
        print(f"saving a watch: {save_ms:.1f} ms; checking {len(report)} watches against a new "
              f"build: {check_s:.2f} s ({check_s * 1000 / len(report):.1f} ms a watch), "
              f"{sum(len(new) for _, new in report)} new passages (none expected: same build)")
        print(f"watches.sqlite: {watches.path.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
