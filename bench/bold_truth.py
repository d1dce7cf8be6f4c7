"""Whether the sentence in bold holds the most of the question's words among those a result shows,
as the page's legend says.

Usage: python bench/bold_truth.py --index-dir IX --questions FILE [--questions FILE] [--n 200]
           [--k 10]

FILE is a BEIR queries.jsonl ("text") or an archive's JSON Lines ("title": its headlines, a
sample of N, seeded). Each question is asked (hybrid, K results); for every result whose bold
sentence was chosen by the question's words, every sentence it shows (the opening above the
passage, and the passage) is scored by the rule the page states (answers.outweighing: the words
held, weighted by rarity, plus the cue for what is asked) and by two plainer readings of the
legend: words by rarity alone, and words counted. It prints how many results show a sentence
holding more than the bold one by each. One process, no server; nothing timed.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indexer import Searcher  # noqa: E402
from indexer.search.answers import outweighing  # noqa: E402
from indexer.terms import query_stems  # noqa: E402


def questions(path: Path, n: int) -> list[str]:
    """N questions of a BEIR queries file, or N headlines sampled from an archive."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    found = [r["text"] if "text" in r and "title" not in r else r.get("title", "") for r in rows]
    found = [q for q in found if q.strip()]
    if "title" not in rows[0]:
        return found[:n]
    return random.Random(1).sample(found, min(n, len(found)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--questions", type=Path, action="append", required=True)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    searcher = Searcher(args.index_dir)
    loaded = searcher._current()
    for path in args.questions:
        results, by_rule, by_weight, by_count = 0, 0, 0, 0
        for query in questions(path, args.n):
            stems = query_stems(query)
            weights = loaded.idf(stems)
            plain = {s: 1.0 for s in stems}
            for hit in searcher.search(query, args.k).hits:
                if hit.highlights.sentence is None or hit.highlights.basis != "words":
                    continue
                bold = hit.passage.text[slice(*hit.highlights.sentence)]
                shown = [p.text for p in (hit.lead, hit.passage) if p is not None]
                results += 1
                by_rule += bool(outweighing(bold, shown, stems, weights, query))
                by_weight += bool(outweighing(bold, shown, stems, weights, ""))
                by_count += bool(outweighing(bold, shown, stems, plain, ""))
        print(f"{path}: {results} results with a bold sentence chosen by words; a sentence shown "
              f"holds more than the bold one: by the page's rule {by_rule}, by rarity alone "
              f"{by_weight}, by count {by_count}")


if __name__ == "__main__":
    main()
