"""What `index --entities` costs: the same articles built without and with entities, alternating.

Usage: python bench/entities.py [--articles 200] [--rounds 2]
           [--source ../shared/data/newsarticles.jsonl]

The first ARTICLES articles of SOURCE are written to a temporary archive and indexed into fresh
folders, without and with entities in turn, ROUNDS times each (this machine's speed drifts, so
the two alternate). The model and the spaCy pipeline are loaded once before the clock starts.
Prints each build's seconds, the ratio, and how many entities an article got of each kind.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indexer import Embedder, build_index  # noqa: E402
from indexer.analysis.entities import _pipeline  # noqa: E402
from indexer.storage.indexdir import current_build  # noqa: E402
from search_latency import machine  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--source",
        type=Path,
        default=Path(__file__).resolve().parents[2] / "shared/data/newsarticles.jsonl",
    )
    args = parser.parse_args()
    print(f"command: python bench/entities.py --articles {args.articles} --rounds {args.rounds}")
    print(f"machine: {machine()}")
    embedder = Embedder()
    embedder.load_passage_model()
    _pipeline()
    times: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as temp:
        archive = Path(temp) / "archive.jsonl"
        with args.source.open() as source, archive.open("w") as out:
            for line, _ in zip(source, range(args.articles)):
                out.write(line)
        for r in range(args.rounds):
            for entities in ((False, True) if r % 2 == 0 else (True, False)):
                folder = Path(temp) / f"ix-{r}-{entities}"
                started = time.perf_counter()
                build_index([archive], folder, embedder=embedder, entities=entities)
                times[entities].append(time.perf_counter() - started)
                print(f"round {r + 1}, entities {entities}: {times[entities][-1]:.1f} s")
        named_index = Path(temp) / f"ix-{args.rounds - 1}-True"
        with sqlite3.connect(current_build(named_index) / "meta.sqlite") as conn:
            kinds = dict(conn.execute("SELECT kind, count(*) FROM entities GROUP BY kind"))
    plain, named = statistics.median(times[False]), statistics.median(times[True])
    print(f"median: {plain:.1f} s without, {named:.1f} s with entities ({named / plain:.2f}x; "
          f"{(named - plain) * 1000 / args.articles:.0f} ms more an article)")
    print("entities an article: " + ", ".join(f"{k} {n / args.articles:.1f}"
                                              for k, n in sorted(kinds.items())))


if __name__ == "__main__":
    main()
