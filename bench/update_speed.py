"""Incremental update against full rebuild, side by side in one run.

Usage: python bench/update_speed.py [--articles FILE.jsonl] [--add 100]

Builds a full index of all but the last ADD articles of FILE (the baseline: the time of a full
rebuild), then adds the last ADD with `update_index`, and prints both times and their ratio.
Default FILE: the shared NewsArticles corpus (3,824 articles).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from indexer import Embedder, build_index, update_index  # noqa: E402
from search_latency import machine  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "newsarticles.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=Path, default=DEFAULT)
    parser.add_argument("--add", type=int, default=100)
    parser.add_argument("--keep", type=Path, help="Copy the updated index here when done.")
    args = parser.parse_args()
    lines = args.articles.read_text(encoding="utf-8").splitlines(keepends=True)
    embedder = Embedder()
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "archive.jsonl"
        archive.write_text("".join(lines[:-args.add]), encoding="utf-8")
        started = time.perf_counter()
        full = build_index([archive], Path(tmp) / "index", embedder=embedder)
        full_seconds = time.perf_counter() - started
        archive.write_text("".join(lines), encoding="utf-8")
        started = time.perf_counter()
        update = update_index([archive], Path(tmp) / "index", embedder=embedder)
        update_seconds = time.perf_counter() - started
        if args.keep:
            import shutil

            shutil.copytree(Path(tmp) / "index", args.keep, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns(".lock"))
    print(f"command: python {' '.join(sys.argv)}")
    print(f"machine: {machine()}")
    print(f"full build: {full.manifest.articles} articles, {full.manifest.passages} passages, "
          f"{full_seconds:.1f} s")
    print(f"update: {update.manifest.updated}, {update.manifest.passages} passages in all, "
          f"{update_seconds:.1f} s")
    print(f"update / full: {100 * update_seconds / full_seconds:.1f}%")


if __name__ == "__main__":
    main()
