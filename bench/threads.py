"""How story threads match events, on an index of real news: sizes, spans, a silver set of same-
event pairs, and a sample of threads to read.

Usage: python bench/threads.py --index-dir DIR [--sample 12] [--seed 5]

Threads are computed as an index build computes them (indexer/analysis/threads.py) from DIR's
stories.
Judged three ways, none of them perfect, so all are printed:
- silver recall: pairs of stories from different outlets, at most 3 days apart, whose headlines
  share at least two content words and half of all their content words (two reports of one
  event, nearly always): the share of them that a thread joins;
- loose pairs: of all pairs of stories within a thread, the share whose headlines share no
  content word at all (an upper bound on wrong links: follow-ups often use other words);
- a random sample of threads of two or more stories, printed to be read (the figures in
  BENCHMARKS.md say how many a person judged to follow one event).
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indexer.storage.indexdir import current_build  # noqa: E402
from indexer.dates import day_number  # noqa: E402
from indexer.retrieval.local import LocalBuild  # noqa: E402
from indexer.storage.manifest import Manifest  # noqa: E402
from indexer.terms import analyse  # noqa: E402
from indexer.analysis.threads import thread_ids  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--sample", type=int, default=12)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    folder = current_build(args.index_dir)
    build = LocalBuild(folder, Manifest.read(folder).model)
    rows = build.meta._conn().execute(
        "SELECT a.rowid, a.id, a.story, a.date, p.id, a.title, p.text, a.source FROM articles a"
        " JOIN passages p ON p.article_rowid = a.rowid AND p.position = 0").fetchall()
    first: dict[str, tuple] = {}
    for row in rows:
        if row[2] not in first or row[1] == row[2]:
            first[row[2]] = row
    heads = list(first.values())
    days = np.array([day_number(r[3]) for r in heads])
    leads = build.vectors(np.array([r[4] for r in heads])).astype(np.float32)
    leads /= np.linalg.norm(leads, axis=1, keepdims=True)
    started = time.perf_counter()
    threads = thread_ids(days, leads, [frozenset(analyse(f"{r[5]}\n{r[6]}")) for r in heads])
    seconds = time.perf_counter() - started
    groups: dict[int, list[int]] = {}
    for i, t in enumerate(threads):
        groups.setdefault(int(t), []).append(i)
    multi = [g for g in groups.values() if len(g) > 1]
    words = [set(analyse(r[5])) for r in heads]
    outlet = [r[7].lower() for r in heads]
    silver = [(a, b) for a, b in itertools.combinations(range(len(heads)), 2)
              if abs(days[a] - days[b]) <= 3 and outlet[a] != outlet[b]
              and len(words[a] & words[b]) >= 2
              and len(words[a] & words[b]) >= 0.5 * len(words[a] | words[b])]
    pairs = [(a, b) for g in multi for a, b in itertools.combinations(g, 2)]
    loose = sum(not (words[a] & words[b]) for a, b in pairs) / max(1, len(pairs))
    spans = [np.nanmax(days[g]) - np.nanmin(days[g]) for g in multi]
    print(f"command: python bench/threads.py --index-dir {args.index_dir}")
    print(f"{len(heads)} stories; threads computed in {seconds:.1f} s")
    print(f"threads of 2 or more: {len(multi)}, holding {sum(map(len, multi))} stories; largest "
          f"{max(map(len, multi), default=0)}, longest {max(spans, default=0):.0f} days")
    print(f"silver pairs joined: {sum(threads[a] == threads[b] for a, b in silver)} of "
          f"{len(silver)}; pairs in threads whose headlines share no word: {loose:.3f}")
    random.seed(args.seed)
    for g in random.sample(multi, min(args.sample, len(multi))):
        print(f"---- {len(g)} stories")
        for i in sorted(g, key=lambda i: days[i])[:6]:
            print(f"   {heads[i][3][:10]}  {heads[i][7][:18]:18}  {heads[i][5][:80]}")


if __name__ == "__main__":
    main()
