"""Watches: a saved search lists exactly the new stories a later build brings into what
matches it, each once, from the command line, the API, the page and an Atom feed."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET

import pytest
from jsonschema import Draft202012Validator, ValidationError
from click.testing import CliRunner

from helpers import DATA, STORM_STORY
from indexer import QueryError, Searcher, build_index, make_filters, update_index
from indexer.features.watches import WATCH_FILE, Watches, WatchError
from webapp import create_app
from webapp.cli import main

QUESTION = "storm damage at the harbour"
ATOM = "{http://www.w3.org/2005/Atom}"


def add_stories(archive):
    (archive / "storm.txt").write_text(STORM_STORY)
    (archive / "gale.txt").write_text(
        "Gale batters harbour wall\n\nA gale tore a hole in the harbour wall overnight and "
        "storm waves damaged the fish market beside it, the port said on Monday.\n")


def matching(searcher: Searcher, query: str = QUESTION) -> list[str]:
    return [h.article.id for h in searcher.search(query, 100, matching_only=True).hits]


def test_a_watch_reports_each_new_story_that_matches_once(archive, tmp_path, words):
    index = tmp_path / "ix"
    build_index([archive], index, embedder=words)
    watches = Watches(index)
    before = matching(Searcher(index, embedder=words))
    saved = watches.save(Searcher(index, embedder=words), "harbour", QUESTION)
    assert saved.seen == before  # none: no story here says storm, damage and harbour
    assert [new for _, new in watches.check(Searcher(index, embedder=words))] == [[]]

    add_stories(archive)
    update_index([archive], index, model=words.name, embedder=words)
    searcher = Searcher(index, embedder=words)
    (watch, new), = watches.check(searcher)
    assert {f["key"] for f in new} == set(matching(searcher)) - set(before) == {"storm", "gale"}
    assert [f["rank"] for f in new] == sorted(f["rank"] for f in new)  # best first
    assert {f["title"] for f in new} == {"Storm floods the harbour", "Gale batters harbour wall"}
    assert watches.check(searcher)[0][1] == new  # the same build checked again: the same

    # A rebuild numbers everything anew; nothing in it is new to the watch.
    build_index([archive], index, embedder=words)
    assert watches.check(Searcher(index, embedder=words))[0][1] == []
    watch = watches.get("harbour")
    assert [c["new"] for c in watch.checks] == [0, 2, 0]  # saved, the update, the rebuild
    assert {f["key"] for f in watch.findings} == {"storm", "gale"}


def test_a_copy_is_not_new_and_a_follow_up_says_whose(tmp_path, embedder):
    """Of the bridge's stories, the watch holds the crack's; an update brings a copy of it
    (nothing new) and the reopening (new, in the crack's thread), and nothing else matches."""
    archive = tmp_path / "archive"
    archive.mkdir()
    lines = (DATA / "threads" / "bridge.jsonl").read_text().splitlines()
    stories = {json.loads(line)["id"]: line for line in lines}
    (archive / "a.jsonl").write_text(stories["crack"] + "\n" + stories["museum"] + "\n")
    index = tmp_path / "ix"
    build_index([archive], index, embedder=embedder)
    watches = Watches(index)
    watches.save(Searcher(index, embedder=embedder), "bridge", "Harbour Bridge crack")
    (archive / "b.jsonl").write_text(stories["crack-copy"] + "\n" + stories["reopen"] + "\n")
    update_index([archive], index, embedder=embedder)
    (_, new), = watches.check(Searcher(index, embedder=embedder))
    assert [(f["key"], f["follows"]) for f in new] == [("reopen", "crack")]
    out = CliRunner().invoke(main, ["watch", "--index-dir", str(index)])
    assert "1 new story" in out.output and "a follow-up in the thread of crack" in out.output
    again = CliRunner().invoke(main, ["watch", "--index-dir", str(index)])
    assert "bridge: 0 new stories" in again.output  # shown once: now read
    history = CliRunner().invoke(main, ["watch", "check", "--all", "--index-dir", str(index)])
    assert "bridge: 1 kept story" in history.output and "reopen" in history.output


def test_watches_refuse_bad_names_unknown_ones_and_a_damaged_file(words_index, tmp_path,
                                                                  words):
    index = tmp_path / "ix"
    shutil.copytree(words_index, index)
    watches, searcher = Watches(index), Searcher(index, embedder=words)
    for bad in ("", "../x", "a b", "x" * 65):
        with pytest.raises(QueryError, match="name"):
            watches.save(searcher, bad, QUESTION)
    with pytest.raises(QueryError, match="no outlet"):
        watches.save(searcher, "x", QUESTION, filters=make_filters(sources=["No Such Outlet"]))
    assert not (index / WATCH_FILE).exists()  # nothing half saved
    watches.save(searcher, "one", QUESTION)
    with pytest.raises(QueryError, match="at most 1 watches"):
        watches.save(searcher, "two", QUESTION, limit=1)
    watches.save(searcher, "one", "bridge closed", limit=1)  # replacing one is not adding one
    assert [w.query for w in watches.all()] == ["bridge closed"]
    with pytest.raises(WatchError, match="no watch named 'nope'"):
        watches.check(searcher, ["nope"])
    (index / WATCH_FILE).write_text("{not json")
    with pytest.raises(WatchError, match="damaged.*remove it"):
        watches.all()


def test_the_cli_saves_a_watch_and_lists_what_an_update_brought(archive, tmp_path):
    runner = CliRunner()
    ix = ["--index-dir", str(tmp_path / "ix")]
    assert runner.invoke(main, ["index", str(archive), *ix]).exit_code == 0
    saved = runner.invoke(main, ["watch", *ix, "add", "harbour", QUESTION, "--depth", "4"])
    assert saved.exit_code == 0 and "Saved the watch 'harbour'" in saved.output
    add_stories(archive)
    updated = runner.invoke(main, ["index", str(archive), "--update", *ix])
    assert updated.exit_code == 0, updated.output
    assert "Watch harbour: " in updated.output and "Watch harbour: 0" not in updated.output
    rows = [json.loads(line) for line in
            runner.invoke(main, ["watch", *ix, "check", "--json"]).output.splitlines()]
    assert {r["title"] for r in rows} >= {"Storm floods the harbour"}  # not read before
    assert {r["watch"] for r in rows} == {"harbour"}
    # The build's report counts the stories found, as the watch lists them (it said passages).
    assert f"Watch harbour: {len(rows)} new stor" in updated.output
    listed = runner.invoke(main, ["watch", *ix])
    assert listed.exit_code == 0 and "harbour: 0 new stories" in listed.output  # read now
    kept = runner.invoke(main, ["watch", *ix, "check", "--all"])
    assert "Storm floods the harbour" in kept.output
    history = runner.invoke(main, ["watch", *ix, "list"]).output
    assert "harbour: storm damage at the harbour" in history and "new stor" in history
    # The folder may come after the subcommand too; there it wins over one given before it.
    assert runner.invoke(main, ["watch", "list", *ix]).output == history
    elsewhere = ["--index-dir", str(tmp_path / "none")]
    assert runner.invoke(main, ["watch", *elsewhere, "list", *ix]).output == history
    assert runner.invoke(main, ["watch", "remove", "harbour", *ix]).exit_code == 0
    gone = runner.invoke(main, ["watch", *ix, "check", "harbour"])
    assert gone.exit_code != 0 and "no watch named 'harbour'" in gone.output


def test_the_page_and_the_api_save_watches_and_the_feed_lists_findings(archive, tmp_path,
                                                                       words):
    index = tmp_path / "ix"
    build_index([archive], index, embedder=words)
    app = create_app({"INDEX_DIR": str(index), "EMBEDDER": words, "TESTING": True})
    client = app.test_client()
    page = client.get("/", query_string={"q": QUESTION}).get_data(as_text=True)
    assert 'action="/watches"' in page and f'value="{QUESTION}"' in page
    saved = client.post("/watches", data={"name": "harbour", "q": QUESTION, "depth": "4"})
    assert saved.status_code == 303 and saved.headers["Location"].endswith("/watch/harbour")
    assert client.post("/watches", data={"name": "x", "q": QUESTION},
                       headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert client.post("/watches", data={"name": "x", "q": QUESTION},
                       headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.post("/watches", data={"name": "../x", "q": QUESTION}).status_code == 400
    made = client.post("/api/watches", json={"name": "bridge", "q": "bridge closed",
                                             "source": ["AFP"]})
    assert made.status_code == 201 and made.get_json()["filters"] == {"source": ["AFP"]}
    assert client.post("/api/watches", json={"name": "y", "q": "x", "colour": 1}).status_code == 400
    assert client.post("/api/watches", json=["x"]).status_code == 400
    listing = client.get("/api/watches").get_json()["watches"]
    assert [w["name"] for w in listing] == ["harbour", "bridge"]

    add_stories(archive)
    update_index([archive], index, model=words.name, embedder=words)
    (_, new), = Watches(index).check(Searcher(index, embedder=words), ["harbour"])
    assert new
    found = client.get("/api/watches/harbour").get_json()
    assert [f["key"] for f in found["findings"]] == [f["key"] for f in new]
    assert "Storm floods the harbour" in client.get("/watch/harbour").get_data(as_text=True)
    assert "harbour" in client.get("/watches").get_data(as_text=True)
    feed = client.get("/watch/harbour.atom")
    assert feed.status_code == 200 and feed.mimetype == "application/atom+xml"
    root = ET.fromstring(feed.get_data())
    entries = root.findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}title").text for e in entries] == [f["title"] for f in new]
    assert all(e.find(f"{ATOM}id").text and e.find(f"{ATOM}updated").text for e in entries)
    doc = client.get("/api/openapi.json").get_json()

    def valid(path: str, method: str, status: int, body: dict) -> None:
        schema = doc["paths"][path][method]["responses"][str(status)]["content"][
            "application/json"]["schema"]
        Draft202012Validator({**schema, "components": doc["components"]}).validate(body)

    valid("/api/watches", "get", 200, client.get("/api/watches").get_json())
    valid("/api/watches", "post", 201, made.get_json())
    valid("/api/watches/{name}", "get", 200, found)
    with pytest.raises(ValidationError):  # the schema can fail
        valid("/api/watches/{name}", "get", 200, {**found, "findings": 3})
    assert client.get("/watch/nope.atom").status_code == 404
    # An archive's control characters never make the feed unreadable.
    with Watches(index).store.writing() as conn:
        conn.execute("UPDATE findings SET data = json_set(data, '$.title', ?) WHERE n = ("
                     "SELECT MAX(n) FROM findings WHERE watch = 'harbour')",
                     ("Storm\x01 \x1b[31mfloods",))
    root = ET.fromstring(client.get("/watch/harbour.atom").get_data())
    assert root.find(f"{ATOM}entry/{ATOM}title").text == "Storm [31mfloods"
    assert client.get("/api/watches/nope").get_json()["error"]["status"] == 404


def test_a_watch_the_index_can_no_longer_answer_leaves_the_others_checked(tmp_path, words):
    # Its outlet left the archive: the check of every watch stopped at it ("the watches were
    # not checked"); now it alone is said, and the others report what the build brought.
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "wire.jsonl").write_text(json.dumps({
        "id": "w1", "title": "Harbour wall repaired", "source": "Wire",
        "text": "Workers repaired the harbour wall after the storm damage last winter."}) + "\n")
    (archive / "post.jsonl").write_text(json.dumps({
        "id": "p1", "title": "Museum reopens", "source": "Post",
        "text": "The city museum reopened on Monday after a year of works."}) + "\n")
    index = tmp_path / "ix"
    build_index([archive], index, embedder=words)
    watches = Watches(index)
    watches.save(Searcher(index, embedder=words), "wire", QUESTION,
                 filters=make_filters(sources=["Wire"]))
    watches.save(Searcher(index, embedder=words), "all", QUESTION)
    (archive / "wire.jsonl").unlink()
    add_stories(archive)
    update_index([archive], index, model=words.name, embedder=words)
    report = watches.check(Searcher(index, embedder=words))
    assert [(w.name, {f["key"] for f in new}) for w, new in report] == \
        [("all", {"storm", "gale"})]
    assert [name for name, _ in watches.unchecked] == ["wire"]
    out = CliRunner().invoke(main, ["watch", "check", "--index-dir", str(index), "--model",
                                    words.name], obj={"embedder": words})
    assert out.exit_code == 0, out.output
    assert "all: 2 new stories" in out.output
    assert "the watch 'wire' was not checked: no outlet 'Wire' in this index" in out.output
