"""Heavy requests and watch checks against `news-search serve` as a real process with one
worker: two clients of batches or exports at once leave a third client's searches their turn,
a third heavy request of one client is a 429, and no request waits on the watches' lock."""

from __future__ import annotations

import json
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

from helpers import ARCHIVE, ROOT
from indexer import Searcher, build_index
from indexer.features.watches import Watches
from servers import ask, start, stop

TOPICS = ["harbour storm", "bridge closed", "drought farmers", "Aleppo rebels", "city council",
          "ferry terminal", "river levels", "election result", "fishing boats", "road repairs"]


def questions(n: int, salt: int) -> list[str]:
    """n distinct questions (distinct from other batches' too: no cached pool)."""
    return [f"{TOPICS[i % len(TOPICS)]} {salt} {i}" for i in range(n)]


@pytest.fixture(scope="module")
def wide_index(tmp_path_factory, embedder) -> Path:
    """The archive and 500 short harbour reports: an export of "storm harbour" has hundreds
    of results, a few hundred milliseconds of work."""
    folder = tmp_path_factory.mktemp("wide")
    (folder / "reports.jsonl").write_text("".join(json.dumps({
        "id": f"report-{i}", "title": f"Harbour report {i}", "date": f"2017-03-{i % 28 + 1:02d}",
        "text": f"The storm hit the harbour near bridge {i} on a {TOPICS[i % 10]} day. Fishing "
                f"boat {i} was damaged and the ferry terminal closed while crews repaired "
                f"road {i * 7}."}) + "\n" for i in range(500)))
    build_index([ARCHIVE, folder / "reports.jsonl"], folder / "index", embedder=embedder)
    return folder / "index"


@pytest.fixture(scope="module")
def one_worker(wide_index, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fair")
    proc, base, port, log, log_path = start(wide_index, folder, "--workers", "1")
    yield base
    stop(proc, log)
    assert "Traceback" not in log_path.read_text()


def searches_beside(base: str, heavy, seconds: float) -> tuple[list[float], list[float]]:
    """Run heavy() in 2 client threads, each over and over for about `seconds`, while a third
    client searches: (each search's seconds, each heavy request's seconds)."""
    stop_at = time.monotonic() + seconds
    heavy_times: list[float] = []

    def client(n: int) -> None:
        round_ = 0
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            status = heavy(n * 1000 + round_)
            assert status == 200, status
            heavy_times.append(time.perf_counter() - started)
            round_ += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.5)  # both heavy clients are under way
    search_times = []
    n = 0
    while time.monotonic() < stop_at:
        started = time.perf_counter()
        status, _, _ = ask(f"{base}/api/search?q=ferry+{n}&k=10")
        assert status == 200
        search_times.append(time.perf_counter() - started)
        n += 1
        time.sleep(0.05)
    for t in threads:
        t.join(timeout=120)
    return search_times, heavy_times


@pytest.mark.parametrize("kind", ["batch", "export"])
def test_two_clients_of_heavy_requests_leave_searches_their_turn(one_worker, kind):
    """Rows 5 and 6: each search waits for a slice of the heavy work (a question, 20 results),
    never for whole batches or exports: a search's time stays a small part of theirs."""
    base = one_worker

    def batch(salt: int) -> int:
        return ask(base + "/api/batch", {"questions": questions(100, salt), "k": 10})[0]

    def export(salt: int) -> int:
        q = urllib.parse.quote(f"storm harbour bridge {salt}")
        return ask(f"{base}/api/export?q={q}&group=passage&match=false&format=jsonl")[0]

    searches, heavies = searches_beside(base, batch if kind == "batch" else export, 6)
    assert len(searches) >= 10 and heavies
    assert max(searches) < 0.5 * statistics.median(heavies), (searches, heavies)


def test_a_third_heavy_request_of_one_client_is_told_to_wait(one_worker):
    base = one_worker
    answers = []
    threads = [threading.Thread(target=lambda s=s: answers.append(ask(
        base + "/api/batch", {"questions": questions(100, 90 + s), "k": 10})[0]))
        for s in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    status, headers, body = ask(base + "/api/batch", {"questions": ["x"], "k": 1})
    for t in threads:
        t.join(timeout=120)
    assert answers == [200, 200]
    assert status == 429 and int(headers["Retry-After"]) > 0
    assert "at most 2" in json.loads(body)["error"]["message"]


def test_no_request_waits_on_the_watches_lock(archive_index, tmp_path, embedder):
    """Row 2: while `watch check` runs over 60 watches, and while another process holds the
    watches' write lock, feeds, the watches page and searches answer at once; a save waits
    for the lock without holding the worker, then is saved."""
    import shutil

    index = tmp_path / "index"
    shutil.copytree(archive_index, index)
    watches, searcher = Watches(index), Searcher(index, embedder=embedder)
    for n in range(60):
        watches.save(searcher, f"w{n}", f"{TOPICS[n % len(TOPICS)]} news {n}", depth=100)
    with watches.store.writing() as conn:  # every watch meets a build it has not checked
        conn.execute("UPDATE checks SET data = json_set(data, '$.index', 'older')")
    proc, base, _, log, log_path = start(index, tmp_path, "--workers", "1")
    try:
        check = subprocess.Popen([sys.executable, "-m", "webapp.cli", "watch", "--index-dir",
                                  str(index), "check"], cwd=ROOT, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
        slowest, rounds = 0.0, 0
        while check.poll() is None:
            rounds += 1
            for path in ("/watch/w1.atom", "/watches", "/api/search?q=harbour+storm"):
                started = time.perf_counter()
                assert ask(base + path)[0] == 200
                slowest = max(slowest, time.perf_counter() - started)
        err = check.communicate()[1]
        assert check.returncode == 0, err
        assert rounds >= 3 and slowest < 1.5, (rounds, slowest)
        assert all(w.checks[-1]["index"] != "older" for w in watches.all())  # all checked

        held = sqlite3.connect(index / "watches.sqlite", timeout=0, isolation_level=None)
        held.execute("BEGIN IMMEDIATE")  # as a check writing a watch's rows would
        saved = []
        saver = threading.Thread(target=lambda: saved.append(ask(
            base + "/api/watches", {"name": "late", "q": "bridge closed"})[0]))
        saver.start()
        time.sleep(0.3)
        for path in ("/watch/w2.atom", "/watches", "/api/search?q=bridge", "/api/watches"):
            started = time.perf_counter()
            assert ask(base + path)[0] == 200
            assert time.perf_counter() - started < 1.0, path
        assert saver.is_alive() and not saved  # the save waits for the lock
        held.execute("COMMIT")
        held.close()
        saver.join(timeout=30)
        assert saved == [201]
        assert "late" in [w.name for w in watches.all()]
    finally:
        stop(proc, log)
    assert "Traceback" not in log_path.read_text()
