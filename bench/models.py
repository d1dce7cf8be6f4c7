"""Embedding models side by side: retrieval quality and indexing speed on one BEIR collection.

Usage: python bench/models.py COLLECTION --model A --model B [--docs 1000] [--seed 0]

A model is an installed package that ships a sentence-transformers model, or a folder holding
one. A slower model may not index a whole collection in reasonable time on a CPU, so by default
the models are compared on a subset: every document judged for a test query, plus documents
drawn at random (seed SEED) up to DOCS, with all the test queries. Each model indexes the subset
through the normal pipeline (`news-search eval`) and is scored in semantic and hybrid mode.
Prints one row per model and mode: nDCG@10, Recall@100, indexing passages/s, median query ms.
Scores on a subset are comparable between the models, not with the whole collection's.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from indexer import evaluate  # noqa: E402
from indexer.features.evaluate import load_collection  # noqa: E402
from search_latency import machine  # noqa: E402


def subset(collection: Path, docs: int, seed: int, into: Path) -> tuple[int, int]:
    """Write a BEIR folder into `into`: the judged documents plus random others up to docs.
    Returns (documents, queries)."""
    corpus, queries, qrels = load_collection(collection)
    judged = {doc for judgements in qrels.values() for doc in judgements}
    lines = [line for line in corpus.open(encoding="utf-8") if line.strip()]
    ids = [str(json.loads(line)["_id"]) for line in lines]
    others = [i for i, doc in enumerate(ids) if doc not in judged]
    random.Random(seed).shuffle(others)
    keep = {i for i, doc in enumerate(ids) if doc in judged}
    keep.update(others[:max(0, docs - len(keep))])
    into.mkdir(parents=True)
    (into / "corpus.jsonl").write_text("".join(lines[i] for i in sorted(keep)), "utf-8")
    shutil.copy(collection / "queries.jsonl", into / "queries.jsonl")
    (into / "qrels").mkdir()
    shutil.copy(collection / "qrels" / "test.tsv", into / "qrels" / "test.tsv")
    return len(keep), len(qrels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("collection", type=Path)
    parser.add_argument("--model", action="append", required=True)
    parser.add_argument("--docs", type=int, default=1000, help="0: the whole collection")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"command: python {' '.join(sys.argv)}")
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.collection
        if args.docs:
            folder = Path(tmp) / args.collection.name
            documents, queries = subset(args.collection, args.docs, args.seed, folder)
            print(f"subset of {args.collection.name}: {documents} documents (all judged ones), "
                  f"{queries} queries")
        print("| model | mode | nDCG@10 | Recall@100 | passages | indexing passages/s "
              "| median query ms |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for model in args.model:
            report = evaluate(folder, ("semantic", "hybrid"), model=model, progress=True)
            rate = report.passages / report.build_seconds
            for row in report.rows:
                print(f"| {Path(model).name} | {row.mode} | {row.ndcg_at_10:.4f} | "
                      f"{row.recall_at_100:.4f} | {report.passages} | {rate:.1f} | "
                      f"{row.median_ms:.1f} |", flush=True)


if __name__ == "__main__":
    main()
