"""Story threads: one event's stories across outlets and days, beyond syndicated copies, linked
when the index is built, shown from a result, as a page, in the API and on the command line."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from helpers import DATA, built
from indexer import Searcher, update_index
from indexer.analysis.threads import thread_ids
from webapp import create_app
from webapp.cli import main

BRIDGE = DATA / "threads"


@pytest.fixture(scope="module")
def index(tmp_path_factory, embedder):
    return built(tmp_path_factory, embedder, "threads", BRIDGE)


@pytest.fixture(scope="module")
def searcher(index, embedder):
    return Searcher(index, embedder=embedder)


def test_links_need_near_leads_close_in_time():
    a, b, c = np.eye(3, dtype=np.float32)
    near = (a + 0.1 * b) / np.linalg.norm(a + 0.1 * b)
    vectors = np.stack([a, near, near, c])
    words = [frozenset({"x"})] * 4
    days = np.array([10.0, 12.0, 30.0, 10.0])  # the third too late, the fourth unlike
    assert thread_ids(days, vectors, words).tolist() == [0, 0, 2, 3]
    undated = np.array([10.0, np.nan, 12.0, 10.0])
    assert thread_ids(undated, vectors, words).tolist() == [0, 1, 0, 3]
    later_first = np.array([12.0, 10.0, 30.0, 10.0])  # a thread is known by its first report
    assert thread_ids(later_first, vectors, words).tolist() == [1, 1, 2, 3]


def test_leads_less_alike_are_linked_when_they_share_rare_words():
    a, b, c, d = np.eye(4, dtype=np.float32)
    side = np.sqrt(1 - 0.65 ** 2)
    follow, other = 0.65 * a + side * b, 0.65 * a + side * c  # each a cosine of 0.65 to a
    vectors = np.stack([a, follow, other] + [d] * 20)
    common = frozenset({"city", "said"})  # in every story: they weigh nothing
    rare = frozenset({"bridge", "crack", "beam"})
    words = [common | rare, common | rare | {"reopen"}, common | {"museum"}] + \
        [common | {f"w{i}"} for i in range(20)]
    days = np.array([10.0, 11.0, 11.0] + [40.0] * 20)
    threads = thread_ids(days, vectors, words)
    assert threads[1] == threads[0] == 0  # near, and the same rare words: one thread
    assert threads[2] == 2  # as near, but no rare word in common: apart


def test_copies_and_a_follow_up_make_one_thread_in_date_order(searcher):
    stories = searcher.thread("crack")
    assert [s.article.id for s in stories] == ["crack", "reopen"]
    assert [c.id for c in stories[0].copies] == ["crack-copy"]
    assert stories[0].adds == () and "reopen" in {w.lower() for w in stories[1].adds}
    assert "bridge" not in {w.lower() for w in stories[1].adds}  # said before: not added
    assert [s.article.id for s in searcher.thread("reopen")] == ["crack", "reopen"]
    assert [s.article.id for s in searcher.thread("museum")] == ["museum"]  # alone
    assert [s.article.id for s in searcher.thread("new-bridge")] == ["new-bridge"]  # 5 weeks on
    assert searcher.thread("no-such-article") == []


def test_a_result_says_how_many_stories_its_thread_holds(searcher):
    sizes = {h.article.id: h.thread_stories for h in searcher.search("harbour bridge", 10).hits}
    assert sizes["reopen"] == 2 and sizes["museum"] == 1 and sizes["new-bridge"] == 1
    assert sizes.get("crack", sizes.get("crack-copy")) == 2


def test_an_update_links_a_new_follow_up(index, tmp_path, embedder):
    archive, copy = tmp_path / "archive", tmp_path / "index"
    shutil.copytree(BRIDGE, archive)
    shutil.copytree(index, copy)
    (archive / "more.jsonl").write_text(json.dumps({
        "id": "reopened", "title": "Harbour Bridge reopens after crack repaired",
        "text": "The Harbour Bridge reopened on Friday, four days after engineers found a crack"
                " in a main support beam and closed it, the city said.",
        "date": "2023-05-05", "source": "Evening Echo"}) + "\n")
    update_index([archive], copy, embedder=embedder)
    ids = [s.article.id for s in Searcher(copy, embedder=embedder).thread("crack")]
    assert ids[0] == "crack" and "reopened" in ids


def test_the_page_api_and_cli_show_a_thread(index, embedder):
    client = create_app({"INDEX_DIR": str(index), "EMBEDDER": embedder}).test_client()
    page = client.get("/?q=harbour+bridge+reopen").get_data(as_text=True)
    assert "1 more story in this thread" in page and "/thread?id=" in page
    thread = client.get("/thread?id=reopen").get_data(as_text=True)
    assert thread.index("Harbour Bridge closed after crack found") < \
        thread.index("Harbour Bridge to reopen next week") and "Adds: " in thread
    assert client.get("/thread?id=nope").status_code == 404
    body = client.get("/api/thread?id=crack").get_json()
    assert [s["article"]["id"] for s in body["stories"]] == ["crack", "reopen"]
    assert body["stories"][0]["also_published"][0]["id"] == "crack-copy"
    assert client.get("/api/thread").status_code == 400
    assert client.get("/api/thread?id=crack&x=1").status_code == 400
    search = client.get("/api/search?q=harbour+bridge+reopen&k=1").get_json()
    assert search["results"][0]["thread_stories"] == 2
    out = CliRunner().invoke(main, ["thread", "crack", "--index-dir", str(index)])
    assert out.exit_code == 0 and "Harbour Bridge to reopen next week" in out.output
    assert "adds: " in out.output and "(and 1 copy)" in out.output
    first = search["results"][0]["article"]["id"]
    found = CliRunner().invoke(main, ["search", "harbour bridge reopen", "--k", "1",
                                      "--index-dir", str(index)], obj={"embedder": embedder})
    assert f"2 stories in its thread: news-search thread {first}" in found.output
