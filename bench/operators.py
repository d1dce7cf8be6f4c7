"""What a question with operators costs (`"a phrase"`, +must, -mustnot, title:), against another
checkout of the code over the same index, and whether both give the same answers.

Usage: python bench/operators.py --index-dir DIR [--a-root CHECKOUT] [--rounds 2]
       [--queries FILE.jsonl]

The questions: every headline of FILE.jsonl (default: the shared NewsArticles) that the query
syntax reads as holding an operator (a quoted phrase), then operator questions a hostile or
curious user types: stopwords required or excluded, phrases of stopwords, titles. Each checkout
(A: --a-root, B: this one) searches them in its own process, alternating, rounds times; each
question's CPU time (process time, one search, the page of 10 and its matching count) is the
median over rounds. At the end: whether A and B gave the same results, totals and matching
counts for every question in the three modes (page 1, and page 2 of the matching stories).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_QUERIES = ROOT.parent / "shared" / "data" / "newsarticles.jsonl"
TYPED = ["trump -the", "trump +the", '"of the" trump', "+trump -obama", '"the president" +trump',
         "president -said", "+said trump", 'trump -"of the"', "the -trump", "title:Trump +said",
         'title:"white house" -trump', "+U.S.-led coalition", "Mosul -title:Iraq",
         '+"Kim Jong" -Malaysia', "+dying refugees", "-says migrants", "+2017 budget",
         "+Mosul civilian deaths", "police +\"shot dead\""]


def measure(root: str, index_dir: str, queries: list[str]) -> None:
    """In a checkout's own process: each question's CPU ms, then its answers, as JSON."""
    sys.path.insert(0, root)
    from indexer.search.searcher import Searcher

    assert Path(sys.modules["indexer"].__file__).resolve().is_relative_to(Path(root).resolve())

    searcher = Searcher(Path(index_dir))
    searcher.search("warm up")
    times, answers = [], []
    for query in queries:
        started = time.process_time()
        searcher.search(query)
        times.append((time.process_time() - started) * 1000)
    for query in queries:
        for mode in ("hybrid", "keyword", "semantic"):
            page = searcher.search(query, mode=mode).to_dict()
            rest = searcher.search(query, mode=mode, page=2, matching_only=True).to_dict()
            answers.append([query, mode, page["total"], page.get("matching"),
                            [r["article"]["id"] for r in page["results"]],
                            [r["article"]["id"] for r in rest["results"]]])
    print(json.dumps({"times": times, "answers": answers}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--a-root", type=Path, required=True, help="checkout that A runs")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # the checkout, in a child
    args = parser.parse_args()
    if args.measure:  # the questions come on stdin: this checkout's parse chose them
        return measure(args.measure, str(args.index_dir), json.load(sys.stdin))
    sys.path.insert(0, str(ROOT))  # this checkout's code, imported here only: not in the child
    sys.path.insert(0, str(ROOT / "bench"))
    from indexer.query import parse
    from search_latency import machine

    titles = [json.loads(line).get("title") or "" for line in args.queries.open()]
    queries = [t for t in titles if t.strip() and not parse(t).plain] + TYPED
    print(f"command: python bench/operators.py --index-dir {args.index_dir} --a-root "
          f"{args.a_root} --rounds {args.rounds}\nmachine: {machine()}\n{len(queries)} questions")
    runs: dict[str, list[dict]] = {"A": [], "B": []}
    for _ in range(args.rounds):
        for name, root in (("A", args.a_root), ("B", ROOT)):
            out = subprocess.run([sys.executable, __file__, "--index-dir", str(args.index_dir),
                                  "--a-root", str(args.a_root), "--measure", str(root.resolve())],
                                 input=json.dumps(queries), capture_output=True, text=True,
                                 check=True).stdout
            runs[name].append(json.loads(out.splitlines()[-1]))
    median = {name: [statistics.median(r["times"][i] for r in rs) for i in range(len(queries))]
              for name, rs in runs.items()}
    quoted = len(queries) - len(TYPED)
    print(f"{quoted} headlines with a quoted phrase: A {statistics.fmean(median['A'][:quoted]):.1f}"
          f" ms, B {statistics.fmean(median['B'][:quoted]):.1f} ms of CPU each (mean)")
    for i, query in enumerate(TYPED, quoted):
        print(f"  A {median['A'][i]:7.1f} ms  B {median['B'][i]:7.1f} ms  {query}")
    same = runs["A"][0]["answers"] == runs["B"][0]["answers"]
    print(f"answers (3 modes, page 1 and the matching stories' page 2): "
          f"{'the same' if same else 'DIFFERENT'} for all {len(queries)} questions")


if __name__ == "__main__":
    main()
