"""Hostile files and long lives: a damaged watches file, watches at their caps, a batch file
that breaks CSV, a header that is a formula, and a request whose error would flood the log."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import shutil
import sqlite3

import pytest
from click.testing import CliRunner

from helpers import ARCHIVE
from indexer import Searcher
from indexer.storage.watch_store import STORE_FILE, add_rows, rows
from indexer.features.watches import KEPT_CHECKS, KEPT_FINDINGS, KEPT_SEEN, Watches, WatchError
from webapp import create_app
from webapp.access_log import MAX_LINE_CHARS
from webapp.cli import main

QUESTION = "storm damage at the harbour"


def deep_watch(path) -> None:
    """A watches file whose one watch is JSON nested 100,000 deep (edited by hand)."""
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO watches VALUES ('deep', 99, ?)", ("[" * 100_000 + "]" * 100_000,))
    conn.commit()
    conn.close()


@pytest.mark.parametrize("damage", ["binary", "folder", "link", "deep"])
def test_a_damaged_watches_file_never_fails_a_build_or_shows_a_path(writable_index, tmp_path,
                                                                    embedder, damage):
    """Row 15: the build stands and `index` exits 0 with a warning; the watch pages say the
    file is damaged (503), not that a watch is unknown, and show no path of the server's."""
    index = writable_index
    Watches(index).save(Searcher(index, embedder=embedder), "harbour", QUESTION)
    store = index / STORE_FILE
    for side in index.glob(f"{STORE_FILE}-*"):
        side.unlink()
    if damage == "deep":
        deep_watch(store)
    else:
        store.unlink()
    if damage == "binary":
        store.write_bytes(os.urandom(4096))
    elif damage == "folder":
        store.mkdir()
    elif damage == "link":
        (tmp_path / "elsewhere.sqlite").write_bytes(b"")
        store.symlink_to(tmp_path / "elsewhere.sqlite")
    built = CliRunner().invoke(main, ["index", str(ARCHIVE), "--index-dir", str(index)])
    assert built.exit_code == 0, built.output
    client = create_app({"INDEX_DIR": str(index), "EMBEDDER": embedder}).test_client()
    name = "harbour"
    if damage == "deep":  # one watch's row is damaged: the others are checked and served
        assert "the watch 'deep' is damaged" in built.output
        assert "Watch harbour: 0 new stories" in built.output
        assert client.get("/watch/harbour.atom").status_code == 200
        name = "deep"
    else:
        assert "Warning: the watches were not checked" in built.output
    for path in ("/watches", f"/watch/{name}", f"/watch/{name}.atom", "/api/watches",
                 f"/api/watches/{name}"):
        answer = client.get(path)
        text = answer.get_data(as_text=True)
        assert answer.status_code == 503, (path, text[:300])
        assert "damaged" in text or "not a regular file" in text
        assert str(tmp_path) not in text and str(index) not in text
    saved = client.post("/api/watches", json={"name": "x", "q": QUESTION})
    assert saved.status_code == (201 if damage == "deep" else 503)
    if damage == "link":
        assert (tmp_path / "elsewhere.sqlite").read_bytes() == b""  # never written through


def test_what_a_watch_keeps_is_bounded_and_read_alone(writable_index, embedder):
    """Row 12: seen passages, findings and checks stay within their caps however long a
    watch lives, and one watch's page reads that watch's rows only."""
    index = writable_index
    watches = Watches(index)
    searcher = Searcher(index, embedder=embedder)
    for name in ("one", "two"):
        watches.save(searcher, name, QUESTION)
    with watches.store.writing() as conn:
        for round_ in range(3):
            add_rows(conn, "seen", "one", [[f"k{round_}-{i}"] for i in range(KEPT_SEEN)],
                     KEPT_SEEN)
            add_rows(conn, "findings", "one", [{"index": "b", "n": i} for i in range(300)],
                     KEPT_FINDINGS)
            add_rows(conn, "checks", "one", [{"index": f"b{i}", "at": "", "new": 0}
                                             for i in range(150)], KEPT_CHECKS)
        assert len(rows(conn, "seen", "one")) == KEPT_SEEN
        assert rows(conn, "seen", "one")[0] == "k2-0"  # the newest kept
        assert len(rows(conn, "findings", "one")) == KEPT_FINDINGS
        assert len(rows(conn, "checks", "one")) == KEPT_CHECKS
    statements: list[str] = []
    original = watches.store._connect

    def traced() -> tuple[sqlite3.Connection, int]:
        conn, version = original()
        conn.set_trace_callback(statements.append)
        return conn, version

    watches.store._connect = traced
    watch = watches.get("two")
    assert watch.name == "two" and len(watch.checks) == 1
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")
             and "FROM" in s.upper()]
    assert reads and all("= 'two'" in s for s in reads), reads


def test_a_batch_file_that_breaks_csv_fails_line_by_line(archive_index, tmp_path):
    """Row 13 and 14: an unterminated quote, a field over the CSV reader's limit and a NUL each
    fail their own line (said in their row); the other lines are answered; a header cell that is
    a formula is written inert."""
    questions = tmp_path / "questions.csv"
    questions.write_text(
        'question,note,=HYPERLINK("http://evil.example")\n'
        "storm damage at the harbour,first,a\n"
        '"an unterminated quote,x,y\n'
        f"harbour bridge,{'x' * 140_000},z\n"
        "nul \x00 question,x,y\n"
        "drought and farmers,last,b\n")
    out = tmp_path / "answers.csv"
    done = CliRunner().invoke(main, ["batch", str(questions), "--index-dir", str(archive_index),
                                     "--k", "1", "-o", str(out)])
    assert done.exit_code == 0, done.output
    text = out.read_text("utf-8-sig")  # the byte order mark a spreadsheet reads
    assert "\x00" not in text
    table = list(csv.DictReader(io.StringIO(text)))
    header = next(csv.reader(io.StringIO(text)))
    assert "'=HYPERLINK(\"http://evil.example\")" in header
    assert [r["error"].split(":")[0] for r in table] == ["", "line 3", "line 4", "line 5", ""]
    assert table[0]["note"] == "first" and table[0]["title"]
    assert table[-1]["note"] == "last" and table[-1]["title"]
    assert "quote" in table[1]["error"] and "over the limit" in table[2]["error"] \
        and "NUL" in table[3]["error"]


def test_no_log_line_of_a_failing_request_is_unbounded(archive_index, embedder):
    """Row 16: a 500 on a 60 kB request logs its path and its error cut short."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logging.getLogger().addHandler(handler)
    try:
        app = create_app({"INDEX_DIR": str(archive_index), "EMBEDDER": embedder})

        @app.get("/boom")
        def boom():
            raise RuntimeError("failed on " + "y" * 60_000)

        answer = app.test_client().get("/boom?q=" + "x" * 60_000)
        assert answer.status_code == 500
    finally:
        logging.getLogger().removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert any("unhandled error on GET /boom" in line for line in lines)
    assert any("RuntimeError: failed on yyy" in line for line in lines)
    assert max(map(len, lines)) <= MAX_LINE_CHARS + 20


def test_watches_saved_before_the_store_are_imported(writable_index, embedder):
    """An index folder's watches.json (before the SQLite store) is read into it once."""
    index = writable_index
    legacy = {"watches": [{"name": "old", "query": QUESTION, "depth": 5, "created": "2026-01-01",
                           "seen": ["a#1"], "checks": [{"index": "b", "at": "t", "new": 1}],
                           "findings": [{"index": "b", "key": "a#1", "title": "T"}]}]}
    (index / "watches.json").write_text(json.dumps(legacy))
    watch = Watches(index).get("old", seen=True)
    assert (watch.query, watch.depth, watch.seen) == (QUESTION, 5, ["a#1"])
    assert watch.findings[0]["title"] == "T" and watch.checks[0]["new"] == 1
    assert not (index / "watches.json").exists() and (index / "watches.json.imported").exists()
    with pytest.raises(WatchError, match="no watch named"):
        Watches(index).get("new")
    shutil.rmtree(index)
