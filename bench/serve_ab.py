"""Two servers side by side, loaded at the same time: the server CPU a search of each.

Usage: python bench/serve_ab.py --index-dir DIR [--b-index-dir DIR2] [--a-env K=V,...]
           [--b-env K=V,...] [--a-root CHECKOUT] [--b-root CHECKOUT] [--rounds 6] [--seconds 20]
           [--clients 2] [--workers 2] [--queries FILE.jsonl]

This machine's speed drifts by 20% and more from one minute to the next (other tenants), more
than most changes to a search's cost. So instead of one run after the other, A and B serve at
once: `news-search serve` started from each checkout (default: this one) with each environment
added, each over its own copy of DIR's index (B: of DIR2's, if given), each loaded by its own wrk
with CLIENTS
connections sending GET /api/search for headlines drawn at random. Both meet the same machine
at the same moment. Each round starts both servers afresh (A and B swap ports every round) and
prints the CPU time their processes used per answered search, and wrk's p50; the end says by how
much B's differs from A's, round by round. Needs wrk (apt-get install wrk) and Linux's /proc.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import (QUERIES, _cpu_s, _pss_mb, _start_wrk, _wrk_results, free_port,  # noqa: E402
                  read_queries, wait_until_serving)
from search_latency import machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def environment(text: str) -> dict[str, str]:
    """"K=V,K2=V2" as a dict."""
    pairs = [item.split("=", 1) for item in text.split(",") if item]
    if any(len(pair) != 2 for pair in pairs):
        raise SystemExit(f"an environment is K=V,K2=V2; got {text!r}")
    return dict(pairs)


def start(root: Path, index_dir: Path, port: int, env: dict[str, str], workers: int,
          log: Path) -> subprocess.Popen:
    """`news-search serve` from root's code on port, answering once it has."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "webapp.cli", "serve", "--port", str(port), "--index-dir",
         str(index_dir), "--workers", str(workers)], cwd=root, env={**os.environ, **env},
        stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        wait_until_serving(proc, f"http://127.0.0.1:{port}", log, started)
    except SystemExit:
        proc.kill()
        raise
    return proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--b-index-dir", type=Path, help="the index B serves (default: DIR)")
    parser.add_argument("--a-env", default="", help="K=V,... added to A's environment")
    parser.add_argument("--b-env", default="", help="K=V,... added to B's environment")
    parser.add_argument("--a-root", type=Path, default=ROOT, help="checkout that A runs")
    parser.add_argument("--b-root", type=Path, default=ROOT, help="checkout that B runs")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=2, help="wrk connections, each server")
    parser.add_argument("--workers", type=int, default=2, help="worker processes, each server")
    parser.add_argument("--queries", type=Path)
    args = parser.parse_args()
    queries = read_queries(args.queries) if args.queries else QUERIES
    sides = {"A": (args.a_root, environment(args.a_env)),
             "B": (args.b_root, environment(args.b_env))}
    indexes = {"A": args.index_dir, "B": args.b_index_dir or args.index_dir}
    print(f"command: python {' '.join(sys.argv)}")
    print(f"machine: {machine()}")
    for name, (root, env) in sides.items():
        print(f"{name}: {root} {env or '(environment as is)'}, index {indexes[name]}")
    cpu: dict[str, list[float]] = {"A": [], "B": []}
    with tempfile.TemporaryDirectory() as tmp:
        copies = {}
        for name in sides:  # each its own copy: nothing of one build is shared by the two
            copies[name] = Path(tmp) / f"index-{name}"
            shutil.copytree(indexes[name], copies[name],
                            ignore=shutil.ignore_patterns(".lock", ".building-*"))
        for round_ in range(args.rounds):
            order = list(sides) if round_ % 2 == 0 else list(sides)[::-1]
            ports = {name: free_port() for name in order}
            procs = {name: start(sides[name][0], copies[name], ports[name], sides[name][1],
                                 args.workers, Path(tmp) / f"server-{name}.log")
                     for name in order}
            try:
                time.sleep(3)  # the other workers finish loading
                before = {name: _cpu_s(proc.pid) for name, proc in procs.items()}
                runs = {}
                for name in order:
                    folder = Path(tmp) / f"wrk-{name}"
                    folder.mkdir(exist_ok=True)
                    runs[name] = _start_wrk(f"http://127.0.0.1:{ports[name]}", args.clients,
                                            args.seconds, queries, folder)
                figures = {name: _wrk_results(run) for name, run in runs.items()}
                used = {name: _cpu_s(proc.pid) - before[name] for name, proc in procs.items()}
                pss = {name: _pss_mb(proc.pid) for name, proc in procs.items()}
            finally:
                for proc in procs.values():
                    proc.terminate()
                    proc.wait(timeout=30)
            for name in sides:
                f = figures[name]
                per = 1000 * used[name] / max(1, f["requests"])
                cpu[name].append(per)
                print(f"round {round_ + 1} {name}: {f['requests']} searches, {f['failed']} failed,"
                      f" server CPU {per:.3f} ms a search, p50 {f['p50_ms']:.2f} ms, "
                      f"PSS {pss[name]:.0f} MB", flush=True)
    summary(cpu)


def summary(cpu: dict[str, list[float]]) -> None:
    """The two sides' CPU a search, and B's against A's round by round."""
    change = [100 * (b / a - 1) for a, b in zip(cpu["A"], cpu["B"])]
    print(f"server CPU a search: A {statistics.fmean(cpu['A']):.3f} ms, B "
          f"{statistics.fmean(cpu['B']):.3f} ms; B against A, round by round: "
          f"{', '.join(f'{c:+.1f}%' for c in change)} (mean {statistics.fmean(change):+.1f}%, "
          f"B lower in {sum(c < 0 for c in change)} of {len(change)})")


if __name__ == "__main__":
    main()
