"""Highlighting's cost a passage: the highlighter against stemming every word, on real results.

Usage: python bench/highlight.py --index-dir DIR [--queries FILE.jsonl] [--n 200] [--rounds 5]

The top 10 hybrid results of N headlines (the first N of FILE.jsonl, default the shared
NewsArticles corpus) are highlighted for their query, one passage at a time; best of --rounds.
Printed, in microseconds a passage: highlight() whole; finding the query's words as it does
(stemming only the words that can match) and as it did (stemming every word); the sentence
splitter, and the plain alternation its pattern is written from. Both ways must mark the same
words: the script stops if they do not.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.search_latency import DEFAULT_QUERIES, machine  # noqa: E402
from indexer import Searcher  # noqa: E402
from indexer.chunking import _CANDIDATE  # noqa: E402
from indexer.search.highlight import matched_words, every_word_matched, highlight  # noqa: E402
from indexer.terms import query_stems  # noqa: E402

PLAIN_CANDIDATE = re.compile(r"""[.!?…]+["'”’)\]]*(?=\s+["'“‘(\[]?[A-Z0-9])|\n\s*\n""")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"# python {' '.join(sys.argv)}\n# {machine()}")
    titles = [t for t in (json.loads(line).get("title", "") for line in args.queries.open())
              if t.strip()][:args.n]
    searcher = Searcher(args.index_dir)
    cases = [(hit.passage.text, query_stems(title))
             for title in titles for hit in searcher.search(title, 10).hits]
    if any(matched_words(text, stems) != every_word_matched(text, stems) for text, stems in cases):
        raise SystemExit("the two ways marked different words")
    ways = {
        "highlight()": lambda text, stems: highlight(text, stems),
        "words found as now": matched_words,
        "words found by stemming every word": every_word_matched,
        "sentences, pattern as now": lambda text, stems: list(_CANDIDATE.finditer(text)),
        "sentences, plain pattern": lambda text, stems: list(PLAIN_CANDIDATE.finditer(text)),
    }
    print(f"{len(cases)} passages (top 10 of {len(titles)} headlines)")
    for name, way in ways.items():
        best = float("inf")
        for _ in range(args.rounds):
            started = time.perf_counter()
            for text, stems in cases:
                way(text, stems)
            best = min(best, time.perf_counter() - started)
        print(f"{name}: {best / len(cases) * 1e6:.1f} µs a passage")


if __name__ == "__main__":
    main()
