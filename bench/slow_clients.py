"""Searches served while hostile connections hold on: slow ones that trickle their headers, idle
ones that send nothing, beside the same load without them.

Usage: python bench/slow_clients.py --index-dir DIR [--trickle 200] [--idle 200] [--clients 4]
           [--seconds 20] [--rounds 3] [--queries FILE.jsonl]

Each round serves a copy of DIR's index twice (bench/load.py: a fresh server each time, CLIENTS
Python clients sending GET /api/search one after another for SECONDS), once with TRICKLE
connections that send a request line and then one header line a second, never ending it, and
IDLE connections that send nothing (each reopened as soon as the server drops it), once
without; which goes first alternates. Prints each run and the medians: requests/s, p50 and p99
of the normal clients' searches, failed searches, and how many hostile connections the server
dropped (each at NEWS_SEARCH_CLIENT_TIMEOUT, whatever it kept sending).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import QUERIES, read_queries, run_load  # noqa: E402
from search_latency import machine  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--trickle", type=int, default=200)
    parser.add_argument("--idle", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--queries", type=Path)
    args = parser.parse_args()
    queries = read_queries(args.queries) if args.queries else QUERIES
    print(f"command: python {' '.join(sys.argv)}")
    print(f"machine: {machine()}")
    print("| round | hostile connections | requests/s | p50 ms | p99 ms | failed | dropped |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    runs: dict[bool, list[dict]] = {False: [], True: []}
    for round_ in range(1, args.rounds + 1):
        for hostile in ((False, True) if round_ % 2 else (True, False)):
            figures = run_load(args.index_dir, args.index_dir, args.clients, args.seconds, 0,
                               queries, trickle=args.trickle if hostile else 0,
                               idle=args.idle if hostile else 0)
            runs[hostile].append(figures)
            held = f"{args.trickle} trickling + {args.idle} idle" if hostile else "none"
            print(f"| {round_} | {held} | {figures['requests_per_s']:.1f} | "
                  f"{figures['p50_ms']:.1f} | {figures['p99_ms']:.1f} | {figures['failed']} | "
                  f"{figures['hostile_dropped']} |", flush=True)
    medians = {("with" if hostile else "without"): {
        key: statistics.median(f[key] for f in figures)
        for key in ("requests_per_s", "p50_ms", "p99_ms", "failed")}
        for hostile, figures in runs.items()}
    print(json.dumps({"medians": medians}, indent=2))


if __name__ == "__main__":
    main()
