"""Incremental updates: new, changed and removed articles, and a result equal to a full rebuild."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from helpers import STORM_STORY
from indexer.search.checks import RELOAD_CHECK_SECONDS
from indexer import (
    IndexMismatchError,
    IndexNotFoundError,
    Searcher,
    build_index,
    update_index,
)

QUERIES = ["why was the bridge closed", "water for farms", "storm damage at the harbour",
           "interest rates", "Aleppo rebels", "ZQ-8812", "museum"]


def change(archive):
    bridge = archive / "harbour-bridge.txt"
    bridge.write_text(bridge.read_text().replace("three weeks", "two months"))
    (archive / "drought.html").unlink()
    (archive / "storm.txt").write_text(STORM_STORY)


def results(searcher: Searcher) -> list:
    out = []
    for mode in ("semantic", "keyword", "hybrid"):
        for query in QUERIES:
            for group in ("article", "passage"):
                for hit in searcher.search(query, 10, mode, group=group).hits:
                    out.append((mode, query, group, hit.article.id, hit.passage.text,
                                round(hit.score, 4), tuple(a.id for a in hit.copies)))
    return out


def test_an_update_equals_a_full_rebuild(archive, tmp_path, embedder):
    updated, rebuilt = tmp_path / "updated", tmp_path / "rebuilt"
    build_index([archive], updated, embedder=embedder)
    change(archive)
    result = update_index([archive], updated, embedder=embedder)
    assert result.manifest.updated == {"added": 1, "changed": 1, "removed": 1}
    build_index([archive], rebuilt, embedder=embedder)
    a, b = Searcher(updated, embedder=embedder), Searcher(rebuilt, embedder=embedder)
    assert (a.manifest.articles, a.manifest.passages) == (b.manifest.articles, b.manifest.passages)
    assert results(a) == results(b)
    hit = a.search("how long will the bridge stay shut", 1).hits[0]
    assert "two months" in hit.passage.text  # the changed article was re-embedded
    assert a.search("drought irrigation", 10, "keyword").hits == []  # the removed one is gone
    assert a.article("drought") is None


def test_an_update_regroups_the_stories_of_articles_it_kept(tmp_path, embedder):
    """A new copy read first names the story of the copies already indexed, as a rebuild does."""
    from helpers import DATA

    lines = (DATA / "syndicated" / "storm.jsonl").read_text().splitlines(keepends=True)
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "b-others.jsonl").write_text("".join(lines[1:]))
    updated, rebuilt = tmp_path / "updated", tmp_path / "rebuilt"
    build_index([archive], updated, embedder=embedder)
    (archive / "a-agency.jsonl").write_text(lines[0])  # read before the others from now on
    update_index([archive], updated, embedder=embedder)
    build_index([archive], rebuilt, embedder=embedder)
    a, b = Searcher(updated, embedder=embedder), Searcher(rebuilt, embedder=embedder)
    stories = [(h.article.id, sorted(c.id for c in h.copies))
               for h in a.search("storm power cut homes", 10).hits if h.copies]
    assert stories == [("storm-agency", ["storm-copy", "storm-edited"])]
    assert results(a) == results(b)


def test_an_update_with_nothing_new_embeds_nothing(archive, tmp_path, embedder):
    build_index([archive], tmp_path / "ix", embedder=embedder)

    class NoEmbedding:
        name, dimension = embedder.name, embedder.dimension

        def encode(self, texts, **kwargs):
            raise AssertionError("nothing should be embedded")

    result = update_index([archive], tmp_path / "ix", embedder=NoEmbedding())
    assert result.manifest.updated == {"added": 0, "changed": 0, "removed": 0}
    assert result.manifest.articles == 11


def test_update_needs_an_index_of_the_same_model(archive, tmp_path, embedder):
    with pytest.raises(IndexNotFoundError, match="no index in"):
        update_index([archive], tmp_path / "none", embedder=embedder)
    build_index([archive], tmp_path / "ix", embedder=embedder)
    with pytest.raises(IndexMismatchError, match="built with model"):
        update_index([archive], tmp_path / "ix", model="other", embedder=embedder)


def test_cli_update_reports_what_changed(archive, tmp_path):
    from click.testing import CliRunner

    from webapp.cli import main

    runner = CliRunner()
    assert (
        runner.invoke(main, ["index", str(archive), "--index-dir", str(tmp_path / "ix")]).exit_code
        == 0
    )
    change(archive)
    result = runner.invoke(main, ["index", str(archive), "--update", "--index-dir",
                                  str(tmp_path / "ix")])
    assert result.exit_code == 0, result.output
    assert "Updated: 1 article added, 1 changed (re-embedded), 1 removed" in result.output
    from indexer.storage.indexdir import current_build

    manifest = json.loads((current_build(tmp_path / "ix") / "manifest.json").read_text())
    assert manifest["updated"] == {"added": 1, "changed": 1, "removed": 1}


@pytest.mark.parametrize("version", [2, 3, 4])
def test_update_brings_an_older_format_up_to_date_without_embedding(archive, tmp_path, embedder,
                                                                    version):
    import shutil
    import sqlite3

    from indexer.storage.indexdir import current_build

    old, fresh = tmp_path / "old", tmp_path / "fresh"
    build_index([archive], old, embedder=embedder)
    build_index([archive], fresh, embedder=embedder)
    # What earlier versions wrote: keyword search in SQLite FTS5 tables (format 3 added the one
    # over whole articles), no keyword index folder; format 4 the keyword indexes without the
    # phrase index.
    folder = current_build(old)
    if version == 4:
        shutil.rmtree(folder / "bm25" / "phrases")
    else:
        shutil.rmtree(folder / "bm25")
        with sqlite3.connect(folder / "meta.sqlite") as conn:
            conn.execute("PRAGMA user_version = 0")  # the old code kept no schema version
            conn.execute("ALTER TABLE articles DROP COLUMN sentences")
            conn.execute("ALTER TABLE articles DROP COLUMN lead_end")
            conn.execute("ALTER TABLE articles DROP COLUMN lead_words")
            conn.execute("CREATE VIRTUAL TABLE passages_fts USING fts5(title, text, content='')")
            if version == 3:
                conn.execute("CREATE VIRTUAL TABLE articles_fts USING fts5(title, text, "
                             "content='')")
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "format_version": version}))
    with pytest.raises(IndexMismatchError, match=f"format {version}.*--update"):
        Searcher(old, embedder=embedder)

    class NoEmbedding:
        def __getattr__(self, name):
            raise AssertionError("an upgrade must not embed")

    result = update_index([archive], old, embedder=NoEmbedding())
    assert result.manifest.format_version == 5
    assert result.manifest.updated == {"added": 0, "changed": 0, "removed": 0}
    with sqlite3.connect(current_build(old) / "meta.sqlite") as conn:
        assert not conn.execute("SELECT name FROM sqlite_master WHERE name LIKE '%fts%'").fetchall()
        # What the page is cut from, found for the old build's articles (storage/schema.py).
        assert conn.execute("SELECT count(*) FROM articles WHERE sentences IS NULL"
                            " OR language IS NULL").fetchone()[0] == 0
    assert results(Searcher(old, embedder=embedder)) == results(Searcher(fresh, embedder=embedder))


@pytest.mark.slow
def test_passage_precision_is_recorded_and_an_update_keeps_it(archive, tmp_path):
    index_dir = tmp_path / "ix"
    built = build_index([archive], index_dir, precision="int8")
    assert built.manifest.precision == "int8"
    (archive / "ferry.txt").write_text("Ferry strike ends\n\nThe ferry crews ended their strike "
                                       "after the port agreed to hire twelve more deckhands.\n")
    updated = update_index([archive], index_dir)
    assert updated.manifest.precision == "int8" and updated.manifest.updated["added"] == 1
    searcher = Searcher(index_dir)
    hit = searcher.search("deckhands strike", 1).hits[0]
    assert hit.article.id.startswith("ferry")
    # int8 passages meet an int8 question: its similarity is that vector's, not float32's.
    stored = searcher._current().store.vectors(np.array([hit.passage_id]))[0]
    embedder = searcher.embedder
    int8, float32 = (embedder.encode_query("deckhands strike", p)[0] for p in ("int8", "float32"))
    assert abs(hit.similarity - float(stored @ int8)) < 1e-5
    assert abs(float(stored @ int8) - float(stored @ float32)) > 1e-5
    unchanged = update_index([archive], index_dir, precision="float32")  # nothing to embed
    assert unchanged.manifest.precision == "int8"
    (archive / "ferry.txt").write_text("Ferry strike goes on\n\nNo deal was reached.\n")
    mixed = update_index([archive], index_dir, precision="float32")
    assert mixed.manifest.precision == "mixed"
    time.sleep(RELOAD_CHECK_SECONDS)
    hit = searcher.search("deckhands strike", 1).hits[0]  # a new build: float32 questions
    stored = searcher._current().store.vectors(np.array([hit.passage_id]))[0]
    assert abs(hit.similarity - float(stored @ float32)) < 1e-5
    with pytest.raises(ValueError, match="precision must be one of"):
        update_index([archive], index_dir, precision="fp16")
