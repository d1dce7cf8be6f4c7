"""Clients as an attacker or a bad network makes them, against `news-search serve` as a real
process: slow and idle connections, huge or broken requests, a bad build under a running server,
and a stop while clients hang on."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

from helpers import ARCHIVE, SEEDS, get
from servers import start, stop
from indexer import build_index
from indexer.storage.indexdir import current_build

ODD_IDS = ["a\tb", "/leading", "trailing/", "a//b", "x/../y", ".", "..", "q?x#y%z", "ö ü",
           "x" * 1000, "中" * 1000, "back\\slash", "semi;colon&amp"]
SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options",
                    "Referrer-Policy")


@pytest.fixture(scope="module")
def odd_index(tmp_path_factory, embedder) -> Path:
    """The archive, the seed, and articles whose ids are hard to put in a link."""
    folder = tmp_path_factory.mktemp("odd")
    (folder / "odd.jsonl").write_text("".join(
        json.dumps({"id": aid, "title": f"Lighthouse keeper number {n} retires",
                    "text": f"Keeper {n} kept the lighthouse lit for {n + 20} years. "
                            + " ".join(f"w{n}x{i}" for i in range(12)) + "."}) + "\n"
        for n, aid in enumerate(ODD_IDS)))
    build_index([SEEDS, ARCHIVE, folder / "odd.jsonl"], folder / "index", embedder=embedder)
    return folder / "index"


@pytest.fixture(scope="module")
def server(odd_index, tmp_path_factory):
    """Two worker processes; a client has 3 s to send a whole request."""
    folder = tmp_path_factory.mktemp("clients")
    proc, base, port, log, log_path = start(odd_index, folder, "--workers", "2",
                                            env={"NEWS_SEARCH_CLIENT_TIMEOUT": "3"})
    yield base, port
    stop(proc, log)
    assert "Traceback" not in log_path.read_text()


def raw(port: int, request: bytes, timeout: float = 30) -> bytes:
    """Send request bytes as they are and read the whole answer (the server closes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer:
                head, _, body = answer.partition(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length: *(\d+)", head)
                if length and len(body) >= int(length.group(1)):
                    break
    return answer


def parse(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def assert_api_error(answer: bytes, status: int) -> dict:
    code, headers, body = parse(answer)
    assert code == status, answer[:300]
    assert headers["content-type"].startswith("application/json")
    for name in SECURITY_HEADERS:
        assert name.lower() in headers, name
    assert headers["cache-control"] == "no-store"
    error = json.loads(body)["error"]
    assert error["status"] == status and error["message"]
    return error


def test_slow_and_idle_connections_never_block_other_clients(server):
    """Eight clients that send a header line a second, eight that send nothing, against two
    workers: searches are answered all along, and the trickling ones are dropped when their
    3 s for a whole request are up, although they never stopped sending."""
    base, port = server
    trickle = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]
    for sock in trickle:
        sock.sendall(b"GET /api/search?q=bridge HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    dropped: set[int] = set()
    done = threading.Event()

    def keep_trickling() -> None:
        for _ in range(60):  # a minute at most
            for i, sock in enumerate(trickle):
                if i in dropped:
                    continue
                try:
                    sock.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    dropped.add(i)
            if len(dropped) == len(trickle) or done.wait(1.0):
                return

    thread = threading.Thread(target=keep_trickling, daemon=True)
    thread.start()
    try:
        for n in range(6):
            status, body = get(base + f"/api/search?q=bridge+{n}")
            assert status == 200 and json.loads(body)["results"]
        thread.join(timeout=60)
        assert len(dropped) == len(trickle), "a trickling client was never dropped"
        for sock in idle:  # idle ones are closed too, with nothing sent
            sock.settimeout(30)
            assert sock.recv(1) == b""
    finally:
        done.set()
        for sock in trickle + idle:
            sock.close()


def test_a_thousand_character_query_in_any_script_can_be_sent(server):
    base, _ = server
    for char in ("ق", "中", "𠀀"):  # 2, 3 and 4 bytes in UTF-8: up to 12 kB percent-encoded
        status, body = get(base + "/api/search?" + urllib.parse.urlencode({"q": char * 1000}))
        assert status == 200, body[:300]
        assert json.loads(body)["query"] == char * 1000


def test_errors_the_server_finds_have_the_api_shape_and_headers(server):
    _, port = server
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(200))
    error = assert_api_error(raw(port, b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + many
                                 + b"\r\n"), 431)
    assert "Header" in error["message"]
    assert_api_error(raw(port, b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: "
                         + b"v" * 65536 + b"\r\n\r\n"), 431)
    assert_api_error(raw(port, b"GET /api/search?q=" + b"a" * 70_000
                         + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), 414)
    assert_api_error(raw(port, b"NOT A REQUEST\r\n\r\n"), 400)


def test_a_post_names_the_allowed_methods_and_broken_utf8_is_refused(server):
    _, port = server
    answer = raw(port, b"POST /api/search?q=x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n"
                       b"Connection: close\r\n\r\n")
    assert_api_error(answer, 405)
    assert set(parse(answer)[1]["allow"].replace(" ", "").split(",")) >= {"GET", "HEAD"}
    error = assert_api_error(
        raw(
            port,
            b"GET /api/search?q=%ff%fe%c3 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        ),
        400,
    )
    assert "not UTF-8" in error["message"]
    code, headers, _ = parse(raw(port, b"GET /article/%ff HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                       b"Connection: close\r\n\r\n"))
    assert code == 400 and headers["content-type"].startswith("text/html")


def test_caching_is_deliberate(server):
    _, port = server
    for path in (b"/", b"/?q=bridge", b"/api/search?q=bridge", b"/api/health", b"/api/nope"):
        headers = parse(raw(port, b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                  b"Connection: close\r\n\r\n"))[1]
        assert headers["cache-control"] == "no-store", path
    headers = parse(raw(port, b"GET /static/style.css HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              b"Connection: close\r\n\r\n"))[1]
    assert "no-cache" in headers["cache-control"] and headers.get("etag")  # revalidated


def test_every_article_is_reachable_from_its_result_link(server):
    base, _ = server
    status, page = get(base + "/?" + urllib.parse.urlencode({"q": "lighthouse keeper retires",
                                                             "k": 20}))
    assert status == 200
    links = {html.unescape(m) for m in re.findall(r'href="(/article[^"]*)"', page)}
    reached = set()
    for link in links:
        status, body = get(base + link)
        assert status == 200, (link[:200], body[:300])
        title = re.search(r"<h1>(.*?)</h1>", body).group(1)
        reached.add(html.unescape(title))
    expected = {f"Lighthouse keeper number {n} retires" for n in range(len(ODD_IDS))}
    assert expected <= reached


def test_a_bad_build_never_stops_the_server(odd_index, tmp_path):
    """CURRENT is pointed at a build whose vectors are truncated, then a worker dies: the new
    worker serves the last good build as the running one does, and says what is wrong."""
    index = tmp_path / "index"
    shutil.copytree(odd_index, index)
    good = current_build(index)
    proc, base, _, log, log_path = start(index, tmp_path, "--workers", "2")
    try:
        bad = index / "build-29990101T000000-000000000"
        shutil.copytree(good, bad)
        with open(bad / "vectors.faiss", "r+b") as f:
            f.truncate(100)
        (index / "CURRENT.tmp").write_text(bad.name + "\n")
        os.replace(index / "CURRENT.tmp", index / "CURRENT")
        workers = [int(p) for p in subprocess.run(["pgrep", "-P", str(proc.pid)],
                                                  capture_output=True, text=True).stdout.split()]
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        seen = set()
        for _ in range(300):  # until the replacement answers, a minute at most
            status, body = get(base + "/api/health")
            assert proc.poll() is None, log_path.read_text()
            assert status == 200, body
            health = json.loads(body)
            seen.add(health["status"])
            if "degraded" in seen and "did not load" in (health["problem"] or ""):
                new = set(int(p) for p in subprocess.run(
                    ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split())
                if workers[0] not in new and len(new) == 2:
                    break
            time.sleep(0.2)
        assert health["status"] == "degraded" and bad.name in health["problem"]
        assert health["index"].endswith(good.name)
        for _ in range(20):  # both workers answer searches from the good build
            status, body = get(base + "/api/search?q=lighthouse")
            assert status == 200 and json.loads(body)["results"]
        assert proc.poll() is None
    finally:
        stop(proc, log)


def test_sigterm_stops_the_server_while_slow_clients_hang_on(odd_index, tmp_path):
    proc, base, port, log, log_path = start(odd_index, tmp_path, "--workers", "2")
    slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(6)]
    try:
        for sock in slow:
            sock.sendall(b"GET /api/search?q=x HTTP/1.1\r\n")  # and nothing more
        assert get(base + "/api/health")[0] == 200
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=8)  # gunicorn's own grace was 10 s, whatever the clients did
    finally:
        for sock in slow:
            sock.close()
        stop(proc, log)
    out = log_path.read_text()
    assert "Traceback" not in out and "terminate called" not in out


def test_sigterm_during_a_build_says_so_on_its_own_line(tmp_path, archive_index):
    index = tmp_path / "index"
    shutil.copytree(archive_index, index)
    before = current_build(index)
    archive = tmp_path / "many"
    archive.mkdir()
    for n in range(3000):
        (archive / f"{n}.txt").write_text(f"Story {n}\nThe council met for the {n}th time. " * 3)
    proc = subprocess.Popen([os.sys.executable, "-m", "webapp.cli", "index", str(archive),
                             "--index-dir", str(index)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(index.glob(".building-*/meta.sqlite")):  # embedding has begun
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    assert re.search(r"(?m)^Error: interrupted: .* is unchanged$", err), err[-500:]
    assert "Traceback" not in err and "terminate called" not in err
    assert current_build(index) == before and not list(index.glob(".building-*"))
