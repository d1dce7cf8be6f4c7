"""A normal client's searches beside heavy neighbours: 2 clients of plain searches, of batches,
of exports, of the watches page, and an `index --update` that checks 200 watches.

Usage: python bench/fairness.py --index-dir DIR --archive FILE.jsonl [--seconds 20]
           [--workers 2] [--watches 200]

DIR holds an index of FILE (built with `news-search index FILE --index-dir DIR`); it is copied,
never changed. One server (`news-search serve`, WORKERS processes) serves the copy, with WATCHES
watches saved (long questions, depth 100). For SECONDS each, one normal client searches one
distinct headline of FILE after another (50 ms apart) while two neighbour clients loop:
- plain: GET /api/search, distinct headlines;
- batch: POST /api/batch of 100 distinct headlines, k=3;
- export: GET /api/export of a headline's every ranked result (CSV, match=false);
- watches: GET /watches;
- update: no neighbour clients; `news-search index FILE NEW --update` adds 20 articles (the
  archive's last 20 under new ids) and checks every watch against its build.
Prints the normal client's p50 and p99 in each, and each neighbour's requests and p50; the
target (issue 31): p99 beside batches or exports within 3x of p99 beside plain searches.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from load import free_port, read_queries, wait_until_serving  # noqa: E402
from search_latency import machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def call(url: str, body: dict | None = None) -> int:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data,
                                     headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            answer.read()
            return answer.status
    except urllib.error.HTTPError as exc:
        exc.read()
        return exc.code


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


class Loop(threading.Thread):
    """A client calling make(n)'s request over and over until stopped: its times and statuses."""

    def __init__(self, make, pause: float = 0.0):
        super().__init__(daemon=True)
        self.make, self.pause = make, pause
        self.times: list[float] = []
        self.statuses: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            started = time.perf_counter()
            self.statuses.append(self.make(n))
            self.times.append(time.perf_counter() - started)
            n += 1
            if self.pause:
                self.stop.wait(self.pause)


def phase(name: str, base: str, titles: list[str], seconds: float, neighbours: list[Loop],
          during=None) -> dict:  # noqa: ANN001 - a callable run while the normal client asks
    offset = {"plain": 0, "batch": 100, "export": 200, "watches": 300, "update": 400}[name]
    normal = Loop(lambda n: call(f"{base}/api/search?q="
                                 f"{urllib.parse.quote(titles[(offset + n) % len(titles)])}"),
                  pause=0.05)
    for loop in neighbours:
        loop.start()
    time.sleep(0.5)
    normal.start()
    if during:
        during()
    else:
        time.sleep(seconds)
    normal.stop.set()
    for loop in neighbours:
        loop.stop.set()
    normal.join()
    for loop in neighbours:
        loop.join(timeout=300)
    others = [t for loop in neighbours for t in loop.times]
    return {"phase": name, "searches": len(normal.times),
            "p50_ms": statistics.median(normal.times) * 1000,
            "p99_ms": percentile(normal.times, 0.99) * 1000,
            "failed": sum(s != 200 for s in normal.statuses),
            "neighbour_requests": len(others),
            "neighbour_p50_ms": statistics.median(others) * 1000 if others else float("nan"),
            "neighbour_statuses": sorted({s for loop in neighbours for s in loop.statuses})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--archive", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--watches", type=int, default=200)
    parser.add_argument("--only", nargs="*", help="phases to run (plain first, for the ratio)")
    args = parser.parse_args()
    titles = read_queries(args.archive)
    print(f"command: python {' '.join(sys.argv)}")
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as temp:
        tmp = Path(temp)
        index = tmp / "index"
        shutil.copytree(args.index_dir, index, symlinks=True)
        save_watches(index, titles, args.watches)
        new = tmp / "new"
        new.mkdir()
        lines = [json.loads(x) for x in args.archive.open() if x.strip()][-20:]
        (new / "new.jsonl").write_text("".join(
            json.dumps({**a, "id": f"new-{i}-{a.get('id', '')}"}) + "\n" for i, a in
            enumerate(lines)))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = tmp / "server.log"
        server = subprocess.Popen([sys.executable, "-m", "webapp.cli", "serve", "--port",
                                   str(port), "--index-dir", str(index), "--workers",
                                   str(args.workers)], cwd=ROOT, stdout=log.open("w"),
                                  stderr=subprocess.STDOUT)
        try:
            wait_until_serving(server, base, log, time.perf_counter())
            results = run_phases(base, titles, args, index, new)
        finally:
            server.terminate()
            server.wait(timeout=60)
    print("| neighbours | normal searches | p50 ms | p99 ms | failed | neighbour requests "
          "| neighbour p50 ms | neighbour statuses |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['phase']} | {r['searches']} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
              f"{r['failed']} | {r['neighbour_requests']} | {r['neighbour_p50_ms']:.1f} | "
              f"{r['neighbour_statuses']} |")
    plain = results[0]["p99_ms"]
    for r in results[1:]:
        print(f"{r['phase']}: p99 {r['p99_ms'] / plain:.2f}x that beside plain searches")


def save_watches(index: Path, titles: list[str], count: int) -> None:
    from indexer import Searcher
    from indexer.features.watches import Watches

    watches, searcher = Watches(index), Searcher(index)
    started = time.perf_counter()
    for i in range(count):
        long_question = " ".join(titles[(i * 3 + j) % len(titles)] for j in range(3))
        watches.save(searcher, f"w{i}", long_question[:900], depth=100)
    print(f"saved {count} watches (depth 100) in {time.perf_counter() - started:.1f} s")


def run_phases(base: str, titles: list[str], args, index: Path, new: Path) -> list[dict]:  # noqa: ANN001
    def quoted(n: int) -> str:
        return urllib.parse.quote(titles[(n * 7 + 11) % len(titles)])

    def batch(k: int):  # noqa: ANN202
        return lambda n: call(f"{base}/api/batch", {"questions": [
            titles[(k * 5000 + n * 100 + i) % len(titles)] for i in range(100)], "k": 3})

    makers = {
        "plain": lambda k: (lambda n: call(f"{base}/api/search?q={quoted(k * 5000 + n)}")),
        "batch": batch,
        "export": lambda k: (lambda n: call(f"{base}/api/export?q={quoted(k * 5000 + n)}"
                                             "&match=false")),
        "watches": lambda k: (lambda n: call(f"{base}/watches")),
    }
    results = []
    for name, make in makers.items():
        if args.only and name != "plain" and name not in args.only:
            continue
        results.append(phase(name, base, titles, args.seconds, [Loop(make(k)) for k in range(2)]))
        print(json.dumps(results[-1]), flush=True)

    def update() -> None:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "webapp.cli", "index", str(args.archive),
                               str(new), "--update", "--index-dir", str(index)], cwd=ROOT,
                              capture_output=True, text=True)
        checked = sum(1 for line in done.stdout.splitlines() + done.stderr.splitlines()
                      if line.startswith("Watch w"))
        print(f"update: exit {done.returncode}, {time.perf_counter() - started:.1f} s, "
              f"{checked} watches checked", flush=True)

    if not args.only or "update" in args.only:
        results.append(phase("update", base, titles, args.seconds, [], during=update))
        print(json.dumps(results[-1]), flush=True)
    return results


if __name__ == "__main__":
    main()
