"""The newer surfaces (timelines, watches, batch, feeds) against a hostile archive and hostile
clients, through `news-search serve` as a real process: never a 5xx, nothing saved that should
not be, and a damaged CURRENT never stops the service."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from helpers import ROOT, SEEDS, get
from indexer import build_index
from indexer.storage.indexdir import current_build
from servers import ask, start, stop, worker_pids

# "No date" as real exports write it, on stories a question about Aleppo finds.
PLACEHOLDERS = [
    {"id": "far future", "title": "Aleppo rebels hold out", "date": "9999-12-31",
     "text": "Rebels in east Aleppo said they would hold out against the army's assault."},
    {"id": "year one", "title": "Aleppo siege talks stall", "date": "0001-01-01",
     "text": "Talks on the siege of east Aleppo between the rebels and Russia stalled again."},
]
QUESTION = "Aleppo rebels"  # every article here says both
NAME = "archive.example"  # a name the server is told to answer as
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="module")
def hostile_index(tmp_path_factory, embedder) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    (folder / "placeholders.jsonl").write_text(
        "".join(json.dumps({**a, "source": "wire"}) + "\n" for a in PLACEHOLDERS))
    build_index([SEEDS, folder / "placeholders.jsonl"], folder / "index", embedder=embedder)
    return folder / "index"


@pytest.fixture(scope="module")
def server(hostile_index, tmp_path_factory):
    folder = tmp_path_factory.mktemp("surfaces")
    index = folder / "index"
    shutil.copytree(hostile_index, index)
    proc, base, port, log, log_path = start(index, folder, "--workers", "2", "--name", NAME)
    yield base, index
    stop(proc, log)
    text = log_path.read_text()
    assert "Traceback" not in text and " 500 " not in text


def api(base: str, path: str, **params) -> tuple[int, dict]:
    status, body = get(base + path + "?" + urllib.parse.urlencode(params, doseq=True))
    return status, json.loads(body)


def test_placeholder_dates_never_break_a_count(server, hostile_index, tmp_path):
    """9999-12-31 and 0001-01-01 stay the articles' text, date nothing, and break no page,
    timeline, filter or sort (row 1)."""
    base, _ = server
    status, page = get(base + "/?" + urllib.parse.urlencode({"q": QUESTION}))
    assert status == 200 and "9999-12-31" in page
    for interval in ("auto", "day", "week", "month", "year"):
        for share in ("false", "true"):
            status, found = api(base, "/api/timeline", q=QUESTION, interval=interval,
                                share=share, compare="Aleppo siege")
            assert status == 200, found
            assert found["undated"] == 2 and sum(b["count"] for b in found["buckets"]) == 1
            assert all(b["start"][:4] == "2016" for b in found["buckets"])
    status, found = api(base, "/api/search", q=QUESTION, since="1000", until="9999-12-31")
    assert status == 200 and {r["article"]["id"] for r in found["results"]} == \
        {current_article(found)}
    status, found = api(base, "/api/search", q=QUESTION, sort="date", recency="30")
    assert status == 200 and found["results"][0]["article"]["date"] == "2016-12-05"
    cli = subprocess.run([sys.executable, "-m", "webapp.cli", "timeline", QUESTION,
                          "--index-dir", str(hostile_index), "--interval", "month"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert cli.returncode == 0 and "Traceback" not in cli.stderr and "undated" in cli.stdout


def current_article(found: dict) -> str:
    """The seed's id: the one article of the answer that is dated within the years kept."""
    dated = {r["article"]["id"] for r in found["results"] if r["article"]["date"] == "2016-12-05"}
    assert len(dated) == 1
    return dated.pop()


def test_lone_surrogates_deep_json_and_foreign_digits_are_400s(server):
    """Rows 7, 8 and 9: a broken character fails its own question, not the batch; JSON
    nested 30,000 deep is a 400; digits of another script are no date."""
    base, index = server
    status, _, body = ask(base + "/api/batch", b'{"questions": ["\\ud800 x", "Aleppo army"]}',
                          {"Content-Type": "application/json"})
    assert status == 200, body
    first, second = json.loads(body)["answers"]
    assert "not valid text" in first["error"] and not first["results"]
    assert second["error"] is None and second["results"]
    status, _, body = ask(base + "/api/watches", b'{"name": "s", "q": "\\ud800"}',
                          {"Content-Type": "application/json"})
    assert status == 400 and "not valid text" in json.loads(body)["error"]["message"]
    deep = b"[" * 30_000 + b"]" * 30_000
    for path, body in (("/api/batch", b'{"questions": ' + deep + b"}"),
                       ("/api/watches", b'{"name": ' + deep + b"}")):
        status, _, answer = ask(base + path, body, {"Content-Type": "application/json"})
        assert status == 400 and json.loads(answer)["error"]["status"] == 400
    status, found = api(base, "/api/search", q=QUESTION, until="٢٠١٦")
    assert status == 400 and "until must be a date" in found["error"]["message"]
    status, _, body = ask(base + "/api/watches", {"name": "digits", "q": "x", "until": "٢٠١٦"})
    assert status == 400
    cli = subprocess.run([sys.executable, "-m", "webapp.cli", "search", "x\udcedx", "--index-dir",
                          str(index)],
                         capture_output=True, cwd=ROOT, timeout=300)
    assert cli.returncode != 0 and b"not valid text" in cli.stderr and b"Traceback" not in \
        cli.stderr


def test_only_this_servers_own_names_and_pages_save_watches(server):
    """Row 10: DNS rebinding (a foreign Host with a matching Origin) and Origin null without
    Sec-Fetch-Site save nothing; the names given with --name are answered, and links follow
    them."""
    base, _ = server
    rebinding = {"Host": "evil.example:80", "Origin": "http://evil.example:80",
                 "Sec-Fetch-Site": "same-origin"}
    status, _, body = ask(base + "/api/watches", {"name": "rebound", "q": QUESTION}, rebinding)
    assert status == 400 and "answers as" in json.loads(body)["error"]["message"]
    assert ask(base + "/api/search?q=x", headers={"Host": "evil.example"})[0] == 400
    status, _, _ = ask(base + "/api/watches", {"name": "nullish", "q": QUESTION},
                       {"Origin": "null"})
    assert status == 403
    port = urllib.parse.urlsplit(base).port
    named = {"Host": f"{NAME}:{port}", "Origin": f"http://{NAME}:{port}",
             "Sec-Fetch-Site": "same-origin"}
    status, _, body = ask(base + "/api/watches", {"name": "named", "q": QUESTION}, named)
    assert status == 201, body
    status, _, _ = ask(base + "/api/watches", {"name": "pagenull", "q": QUESTION},
                       {"Origin": "null", "Sec-Fetch-Site": "same-origin"})
    assert status == 201  # our own pages send no referrer: a browser says null, same-origin
    names = [w["name"] for w in api(base, "/api/watches")[1]["watches"]]
    assert "rebound" not in names and "nullish" not in names and "named" in names
    status, _, feed = ask(base + "/watch/named.atom", headers={"Host": f"{NAME}:{port}"})
    links = [e.get("href") for e in ET.fromstring(feed).iter(f"{ATOM}link")]
    assert links and all(link.startswith(f"http://{NAME}:{port}/") for link in links)


def test_outlets_are_saved_normalised_and_the_watches_page_is_paged(server):
    """Row 11: an outlet padded with 55,000 dots is saved as the outlet; the file stays small;
    /watches lists its watches in pages."""
    base, index = server
    padded = "." * 55_000 + "wire" + "." * 10
    for n in range(30):
        status, _, body = ask(base + "/api/watches",
                              {"name": f"pad{n}", "q": QUESTION, "source": [padded]})
        assert status == 201, body[:300]
        assert json.loads(body)["filters"]["source"] == ["wire"]
    assert sum(f.stat().st_size for f in index.glob("watches.sqlite*")) < 2_000_000
    first = get(base + "/watches")[1]
    assert first.count('<li>') == 25 and "Page 1 of" in first
    last = get(base + "/watches?page=2")[1]
    assert "pad29" in last and "pad0<" not in last
    total = int(first.split("watches)", 1)[0].rsplit("(", 1)[1])  # "Page 1 of 2 (N watches)"
    past = " ".join(get(base + "/watches?page=9")[1].split())
    assert "No watches yet" not in past  # it said so, with 30 and more saved
    assert f"Page 9 is past the end: the {total} watches end on" in past and "page=2" in past
    assert get(base + "/watches?page=x")[0] == 400


def test_feed_entries_have_tag_ids_and_their_stories_dates(server, hostile_index, tmp_path):
    """Row 17: each entry's id is a tag: URI that is a valid IRI whatever the article id, and
    its updated time is the story's date."""
    base, index = server
    from indexer import Searcher
    from indexer.features.watches import Watches

    watches = Watches(index)
    searcher = Searcher(index)
    watches.save(searcher, "ids", QUESTION, depth=2)
    with watches.store.writing() as conn:  # as if the watch met another build first
        conn.execute("DELETE FROM seen WHERE watch = 'ids'")
        conn.execute("UPDATE checks SET data = json_set(data, '$.index', 'older') "
                     "WHERE watch = 'ids'")
    (_, new), = watches.check(searcher, ["ids"])
    assert new
    root = ET.fromstring(ask(base + "/watch/ids.atom")[2])
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == len(new)
    for entry, finding in zip(entries, new):
        entry_id = entry.find(f"{ATOM}id").text
        assert entry_id.startswith("tag:news-search,") and " " not in entry_id \
            and "#" not in entry_id
        day = finding["date"][:10]
        expected = f"{day}T00:00:00Z" if day.startswith("2016") else finding["found"]
        assert entry.find(f"{ATOM}updated").text == expected


@pytest.mark.parametrize("pointer", [b"\xff\xfe not utf-8", b"", b"../other/build-X\n", None])
def test_a_damaged_current_keeps_the_last_good_build_serving(hostile_index, tmp_path,
                                                             embedder, pointer):
    """Rows 3 and 4: CURRENT not UTF-8, empty, naming a build outside the folder, or missing;
    then a worker is killed: the running and the restarted workers serve the good build and
    /api/health says what is wrong; the build outside is never served."""
    index = tmp_path / "index"
    shutil.copytree(hostile_index, index)
    good = current_build(index).name
    other = tmp_path / "other" / "build-X"
    other.parent.mkdir()
    shutil.copytree(index / good, other)  # a complete build, but not this folder's
    proc, base, _, log, log_path = start(index, tmp_path, "--workers", "2")
    try:
        if pointer is None:
            (index / "CURRENT").unlink()
        else:
            (index / "CURRENT").write_bytes(pointer)
        time.sleep(1.5)  # the running workers look at CURRENT once a second
        first = worker_pids(proc)
        os.kill(first[0], signal.SIGKILL)
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, log_path.read_text()
            status, health = api(base, "/api/health")
            assert status == 200, health
            now = worker_pids(proc)
            if first[0] not in now and len(now) == 2:
                break
            assert time.monotonic() < deadline, "no worker replaced the killed one"
            time.sleep(0.2)
        for _ in range(20):  # both workers, the new one too
            status, health = api(base, "/api/health")
            assert status == 200 and health["index"].endswith("/" + good)
            assert health["status"] == "degraded" and "CURRENT" in health["problem"]
            status, found = api(base, "/api/search", q=QUESTION)
            assert status == 200 and found["results"]
    finally:
        stop(proc, log)
    assert "Traceback" not in log_path.read_text()
