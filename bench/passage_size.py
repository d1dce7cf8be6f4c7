"""Eval a collection indexed with passages of another size than the default.

Usage: python bench/passage_size.py SET WORDS [--eval-root ../shared/eval]

Indexes ../shared/eval/SET's corpus with passages of at most WORDS words (into
/tmp/ps-SET-WORDS, reused when it is there) and prints the hybrid eval of what the API shows:
nDCG@10, and answer@1 and @3 where the set has answers.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indexer import build_index, evaluate  # noqa: E402
from indexer.features.evaluate import load_collection  # noqa: E402

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "shared" / "eval"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("set")
    parser.add_argument("words", type=int)
    parser.add_argument("--eval-root", type=Path, default=DEFAULT_ROOT)
    args = parser.parse_args()
    folder = args.eval_root / args.set
    corpus, _, _ = load_collection(folder)
    index = Path(f"/tmp/ps-{args.set}-{args.words}")
    if not index.exists():
        started = time.perf_counter()
        build_index([corpus], index, max_words=args.words)
        print(f"built in {time.perf_counter() - started:.0f} s", flush=True)
    report = evaluate(folder, ["hybrid"], index_dir=index)
    for row in report.rows:
        print(f"{args.set}, {args.words} words: {report.passages} passages, nDCG@10 "
              f"{row.ndcg_at_10:.4f}, answer@1 {row.answer_at_1}, answer@3 {row.answer_at_3}")


if __name__ == "__main__":
    main()
