"""`news-search serve` as a real process behind a real HTTP port."""

from __future__ import annotations

import json
import socket
import urllib.parse

import pytest

from conftest import ALEPPO_QUESTION, free_port, get, serve, wait_until_up


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server started on an empty index folder: it builds the seed archive's index first."""
    port = free_port()
    folder = tmp_path_factory.mktemp("served")
    log = open(folder / "server.log", "w")
    proc = serve(folder / "index", port, log)
    base = f"http://127.0.0.1:{port}"
    wait_until_up(proc, base, folder / "server.log")
    yield base
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def test_first_serve_builds_the_seed_index_and_answers_over_http(server):
    status, body = get(server + "/api/search?" + urllib.parse.urlencode({"q": ALEPPO_QUESTION, "k": 3}))
    assert status == 200
    results = json.loads(body)["results"]
    assert any("15,000" in r["text"] and "8,000" in r["text"] for r in results)
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
