"""HTTP load against `news-search serve` while the index is rebuilt and swapped underneath.

Usage: python bench/load.py --index-dir DIR --archive PATH [--clients 4] [--seconds 20]
           [--rebuilds 2] [--update] [--queries FILE.jsonl] [--workers N]
           [--keep-alive] [--wrk] [--close-after MS]

Starts a server on a free port over a copy of DIR's index (cold start: until it first answers;
then 3 s for its other worker processes to load), runs CLIENTS threads that each send
GET /api/search one after another for SECONDS, and meanwhile rebuilds the copy from ARCHIVE
REBUILDS times (each a full build, or with --update an `index --update`, swapped in when
complete). Prints requests/s, latency
percentiles, failed requests and the swaps the server picked up. Exits 1 on any failed request.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
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
from typing import Any

import orjson  # the server's JSON writer (a dependency) parses an answer in 35 us, json in 90

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from search_latency import machine  # noqa: E402

QUERIES = ["Aleppo evacuation", "interest rates", "bridge closed", "election results", "drought",
           "how many rebels were in east Aleppo", "Betsy DeVos vote", "storm", "museum theft"]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_serving(server: subprocess.Popen, base: str, log: Path, started: float) -> str:
    """The build that the server at base answers from, once it answers (started: when it was,
    by time.perf_counter); SystemExit with its log if it stops or takes over 120 s."""
    while True:
        try:
            with urllib.request.urlopen(base + "/api/health", timeout=5) as r:
                return json.load(r)["index"]
        except OSError:
            if server.poll() is not None or time.perf_counter() - started > 120:
                raise SystemExit("server did not start: " + log.read_text()) from None
            time.sleep(0.1)


def read_queries(path: Path) -> list[str]:
    """The headlines of the first 1,000 articles of a JSONL archive that have one."""
    titles = [json.loads(line)["title"] for line in path.open() if line.strip()]
    return [t for t in titles if t.strip()][:1000]


class Hostile(threading.Thread):
    """Connections that hold on to a server: `trickle` of them send a request line, then a
    header line a second and never the end of their headers; `idle` ones send nothing. Each
    one the server drops is opened again at once, so that as many are always open."""

    def __init__(self, port: int, trickle: int, idle: int):
        super().__init__(daemon=True)
        self.port, self.trickle, self.idle = port, trickle, idle
        self.stop = threading.Event()
        self.dropped = 0
        self.open_failed = 0

    def _connect(self, slow: bool):  # noqa: ANN202 - a socket, or None
        import socket

        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            sock.setblocking(False)
            if slow:
                sock.send(b"GET /api/search?q=slow HTTP/1.1\r\nHost: x\r\n")
            return sock
        except OSError:
            self.open_failed += 1
            return None

    def run(self) -> None:
        held = [(self._connect(i < self.trickle), i < self.trickle)
                for i in range(self.trickle + self.idle)]
        while not self.stop.wait(1.0):
            for n, (sock, slow) in enumerate(held):
                alive = sock is not None
                try:
                    if alive and slow:
                        sock.send(b"X-Slow: 1\r\n")
                    if alive and sock.recv(4096) == b"":  # the server closed it
                        alive = False
                except BlockingIOError:
                    pass  # nothing to read: still open
                except OSError:
                    alive = False
                if not alive:
                    self.dropped += sock is not None
                    if sock is not None:
                        sock.close()
                    held[n] = (self._connect(slow), slow)
        for sock, _ in held:
            if sock is not None:
                sock.close()


class _Load:
    """What the client threads of run_load share: the queries, when to stop, and what they
    measured."""

    def __init__(self, port: int, queries: list[str], seconds: float, rebuilds: int,
                 keep_alive: bool, close_after: float):
        self.port, self.queries = port, queries
        self.keep_alive, self.close_after = keep_alive, close_after
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.lock = threading.Lock()
        self.stop = time.perf_counter() + seconds
        self.rebuilt = threading.Event()  # the clients go on at least until every swap is served
        if not rebuilds:
            self.rebuilt.set()

    def client(self, seed: int) -> None:
        """One client: searches one after the other until the time is up and the rebuilds are
        served."""
        rng = random.Random(seed)
        connection = None
        while time.perf_counter() < self.stop or not self.rebuilt.is_set():
            path = "/api/search?" + urllib.parse.urlencode({"q": rng.choice(self.queries)})
            t0, waited = time.perf_counter(), 0.0
            try:
                # http.client, the standard library's lightest client: these clients share the
                # server's cores (their CPU is printed).
                connection = connection or http.client.HTTPConnection(
                    "127.0.0.1", self.port, timeout=30)
                try:
                    status, raw, waited = self._ask(connection, path)
                except (OSError, http.client.HTTPException):
                    connection = None  # closed by _ask
                    raise
                if not self.keep_alive:  # a new connection for every request, closed once read
                    connection.close()
                    connection = None
                body = orjson.loads(raw)
                ok = status == 200 and "results" in body
            except (OSError, ValueError, http.client.HTTPException) as exc:
                ok, body = False, str(exc)
            with self.lock:
                self.latencies.append((time.perf_counter() - t0 - waited) * 1000)
                if not ok:
                    self.failures.append(str(body)[:200])
        if connection:
            connection.close()

    def _ask(self, connection: http.client.HTTPConnection, path: str
             ) -> tuple[int, bytes, float]:
        """(status, body, seconds held open after it) of one request on connection."""
        held = None
        try:
            connection.request("GET", path)
            # http.client closes as soon as it has read an answer that says "Connection:
            # close"; a second descriptor of the socket holds the connection open close_after
            # longer (a remote client's close reaches the server a round trip after the answer
            # reached it).
            held = connection.sock.dup() if self.close_after else None
            r = connection.getresponse()
            status, raw = r.status, r.read()
        except (OSError, http.client.HTTPException):
            connection.close()
            if held is not None:
                held.close()
            raise
        if held is None:
            return status, raw, 0.0
        time.sleep(self.close_after)
        held.close()
        return status, raw, self.close_after

    def figures(self) -> dict:
        """The threads' latencies summed up."""
        latencies = sorted(self.latencies)
        pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]  # noqa: E731
        return {"requests": len(latencies), "failed": len(self.failures),
                "failures": self.failures[:5], "p50_ms": pick(0.50), "p99_ms": pick(0.99),
                "max_ms": latencies[-1] if latencies else 0,
                "mean_ms": statistics.fmean(latencies) if latencies else 0}


def _serve(served: Path, port: int, workers: int | None, log: Any) -> subprocess.Popen:
    """`news-search serve` of the index folder served on port, its output to log."""
    return subprocess.Popen([sys.executable, "-m", "webapp.cli", "serve", "--port", str(port),
                             "--index-dir", str(served),
                             *(["--workers", str(workers)] if workers else [])],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


def run_load(index_dir: Path, archive: Path, clients: int, seconds: float, rebuilds: int,
             queries: list[str], update: bool = False, keep_alive: bool = False,
             workers: int | None = None, wrk: bool = False, close_after: float = 0.0,
             trickle: int = 0, idle: int = 0) -> dict:
    """Serve a copy of index_dir, load it for `seconds` and until each of `rebuilds` builds
    underneath is served; the figures. trickle, idle: connections that hold on (Hostile)."""
    with tempfile.TemporaryDirectory() as tmp:
        served = Path(tmp) / "index"
        shutil.copytree(index_dir, served, ignore=shutil.ignore_patterns(".lock", ".building-*"))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = open(Path(tmp) / "server.log", "w")
        started = time.perf_counter()
        server = _serve(served, port, workers, log)
        try:
            builds_seen = {wait_until_serving(server, base, Path(tmp) / "server.log", started)}
            cold_start = time.perf_counter() - started
            time.sleep(3)  # the other worker processes finish loading before the clock starts
            load = _Load(port, queries, seconds, rebuilds, keep_alive, close_after)
            # With wrk, one wrk process instead of the threads, its CPU counted as the clients'.
            threads = [] if wrk else [threading.Thread(target=load.client, args=(i,))
                                      for i in range(clients)]
            client_cpu_s = _children_cpu_s if wrk else time.process_time
            hostile = Hostile(port, trickle, idle)
            if trickle or idle:
                hostile.start()
                time.sleep(2)  # all of them open before the clock starts
            server_cpu0, client_cpu0 = _cpu_s(server.pid), client_cpu_s()
            clock = time.perf_counter()
            if wrk:
                wrk_run = _start_wrk(base, clients, seconds, queries, Path(tmp))
            for t in threads:
                t.start()
            for _ in range(rebuilds):  # full builds, swapped in under the running server
                subprocess.run([sys.executable, "-m", "webapp.cli", "index", str(archive),
                                "--index-dir", str(served), *(["--update"] if update else [])],
                               cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
                builds_seen.add(_wait_for_new_build(base, builds_seen))
            load.rebuilt.set()
            for t in threads:
                t.join()
            figures = _wrk_results(wrk_run) if wrk else load.figures()  # waits for wrk to end
            hostile.stop.set()
            elapsed = time.perf_counter() - clock
            server_cpu = _cpu_s(server.pid) - server_cpu0
            client_cpu = client_cpu_s() - client_cpu0  # with wrk: and any rebuild's
            pss_mb = _pss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()
    done = max(1, figures["requests"])
    return {**figures, "requests_per_s": figures["requests"] / (seconds if wrk else elapsed),
            "builds_served": len(builds_seen), "cold_start_s": cold_start,
            "server_pss_mb": pss_mb,  # proportional set size: shared pages count once
            "hostile_dropped": hostile.dropped, "hostile_open_failed": hostile.open_failed,
            # CPU time per request, of the server's processes and of the clients
            "server_cpu_ms_per_request": 1000 * server_cpu / done,
            "client_cpu_ms_per_request": 1000 * client_cpu / done}


def _wait_for_new_build(base: str, seen: set[str], limit_s: float = 120) -> str:
    """The build /api/health names once it is one not in seen (the server looks for a new build
    once a second); a RuntimeError after limit_s."""
    deadline = time.monotonic() + limit_s
    while True:
        with urllib.request.urlopen(base + "/api/health", timeout=30) as r:
            build = json.load(r)["index"]
        if build not in seen:
            return build
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server still serves {build} {limit_s:g} s after a rebuild")
        time.sleep(0.2)


_WRK_SCRIPT = """
local paths = {}
init = function(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  math.randomseed(os.time())
end
request = function() return wrk.format("GET", paths[math.random(#paths)]) end
done = function(summary, latency, requests)
  local out = io.open(args_out, "w")
  out:write(string.format("%d %d %d\\n", summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  for _, p in ipairs({50, 99}) do
    out:write(string.format("%f\\n", latency:percentile(p) / 1000))
  end
  out:write(string.format("%f\\n", latency.max / 1000))
  out:write(string.format("%f\\n", latency.mean / 1000))
  out:close()
end
"""


def _start_wrk(base: str, clients: int, seconds: float, queries: list[str], tmp: Path
               ) -> tuple[subprocess.Popen, Path]:
    """wrk (C, one thread, `clients` connections) sending GET /api/search for queries drawn at
    random, for `seconds`; its figures are written to a file when it ends."""
    paths, out = tmp / "paths.txt", tmp / "wrk.txt"
    paths.write_text("".join("/api/search?" + urllib.parse.urlencode({"q": q}) + "\n"
                             for q in queries))
    script = tmp / "load.lua"
    script.write_text(f"args_out = {json.dumps(str(out))}\n" + _WRK_SCRIPT)
    proc = subprocess.Popen(["wrk", "-t1", f"-c{clients}", f"-d{seconds:g}s", "--timeout", "30s",
                             "-s", str(script), base, "--", str(paths)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc, out


def _wrk_results(run: tuple[subprocess.Popen, Path]) -> dict:
    """requests, failed (non-2xx answers and socket errors), p50/p99/max/mean latency in ms of
    a wrk run, waited for."""
    proc, out = run
    output = proc.communicate()[0]
    if proc.returncode or not out.is_file():
        raise SystemExit(f"wrk failed: {output}")
    counts, *times = out.read_text().split("\n")
    requests, bad_status, socket_errors = map(int, counts.split())
    p50, p99, slowest, mean = map(float, times[:4])
    return {"requests": requests, "failed": bad_status + socket_errors,
            "failures": [output] if bad_status + socket_errors else [],
            "p50_ms": p50, "p99_ms": p99, "max_ms": slowest, "mean_ms": mean}


def _children_cpu_s() -> float:
    """CPU seconds used by this process's finished children (wrk)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def children(pid: int) -> list[int]:
    """The processes whose parent is pid: `serve`'s gunicorn workers (Linux)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            pass
    return found


def _cpu_s(pid: int) -> float:
    """The user + system CPU seconds that process pid and its children have used (Linux)."""
    total = 0.0
    for each in [pid, *children(pid)]:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            pass
    return total


def _pss_mb(pid: int) -> float:
    """The resident memory of process pid and its children, in MiB (Linux): their proportional
    set sizes, so that pages they share count once."""
    total = 0
    for each in [pid, *children(pid)]:
        try:
            for line in Path(f"/proc/{each}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024 if total else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--archive", type=Path, required=True)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rebuilds", type=int, default=2)
    parser.add_argument("--queries", type=Path)
    parser.add_argument("--workers", type=int, help="the server's processes (default: serve's)")
    parser.add_argument("--keep-alive", action="store_true",
                        help="Each client keeps one HTTP/1.1 connection open, as a browser or an"
                        " API client with a session does (default: a new connection a request).")
    parser.add_argument("--wrk", action="store_true",
                        help="Load with wrk (C, one thread; apt-get install wrk) instead of Python"
                        " client threads: the clients take less of the server's CPU.")
    parser.add_argument("--close-after", type=float, default=0.0, metavar="MS",
                        help="Each Python client closes its connection this long after reading "
                        "the answer, as a remote client's close arrives a round trip later "
                        "(not counted in its latency).")
    parser.add_argument(
        "--update",
        action="store_true",
        help="Rebuild with `index --update` (a new build all the same, swapped in).",
    )
    args = parser.parse_args()
    queries = read_queries(args.queries) if args.queries else QUERIES
    figures = run_load(args.index_dir, args.archive, args.clients, args.seconds, args.rebuilds,
                       queries, args.update, args.keep_alive, args.workers,
                       args.wrk, args.close_after / 1000)
    print(f"command: python {' '.join(sys.argv)}")
    print(f"machine: {machine()}")
    print(json.dumps(figures, indent=2))
    print(f"| {args.clients} | {figures['requests_per_s']:.1f} | {figures['p50_ms']:.0f} | "
          f"{figures['p99_ms']:.0f} | {figures['failed']} | {figures['server_pss_mb']:.0f} | "
          f"{figures['cold_start_s']:.1f} |")
    sys.exit(1 if figures["failed"] else 0)


if __name__ == "__main__":
    main()
