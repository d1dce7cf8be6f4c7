"""Each article's language, detected when indexed: shown, listed and filterable everywhere; an
index built before languages gets them on its next update."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest
from click.testing import CliRunner

from helpers import DATA, built
from indexer import QueryError, Searcher, build_index, make_filters, update_index
from indexer.storage import schema
from indexer.storage.indexdir import current_build
from webapp import create_app
from webapp.cli import main

EUROPE = DATA / "languages"
FLOODS = "harbour closed after floods"


@pytest.fixture(scope="module")
def index(tmp_path_factory, words):
    return built(tmp_path_factory, words, "languages", EUROPE)


@pytest.fixture(scope="module")
def searcher(index, words):
    return Searcher(index, embedder=words)


def test_languages_are_detected_and_listed(searcher):
    assert dict(searcher.languages()) == {"de": 1, "fr": 1, "en": 1, "": 1}  # "": too short
    found = {h.article.id: h.article.language for h in searcher.search(FLOODS, 10).hits}
    assert found == {"de-1": "de", "fr-1": "fr", "en-1": "en", "short-1": ""}
    assert searcher.article("fr-1").language == "fr"


def test_a_language_filter_keeps_its_articles_only(searcher):
    german = searcher.search(FLOODS, 10, filters=make_filters(languages=["DE"]))
    assert [h.article.id for h in german.hits] == ["de-1"]
    both = searcher.search(FLOODS, 10, filters=make_filters(languages=["de", "fr"]))
    assert {h.article.id for h in both.hits} == {"de-1", "fr-1"}
    t = searcher.timeline("Lyon", filters=make_filters(languages=["fr"]), share=True)
    assert sum(b.count for b in t.buckets) == 1 and sum(b.total for b in t.buckets) == 1
    with pytest.raises(QueryError, match=r"no article in language 'es'.*de \(1\)"):
        searcher.search(FLOODS, 10, filters=make_filters(languages=["es"]))
    with pytest.raises(QueryError, match="two-letter ISO 639-1"):
        make_filters(languages=["english"])


def test_an_index_built_before_languages_is_searched_then_updated(tmp_path, words):
    folder = tmp_path / "ix"
    build_index([EUROPE], folder, embedder=words)
    with sqlite3.connect(current_build(folder) / "meta.sqlite") as conn:  # as the old code built
        conn.execute("ALTER TABLE articles DROP COLUMN language")
        conn.execute("PRAGMA user_version = 0")  # the old code kept no schema version
    old = Searcher(folder, embedder=words)
    assert old.languages() == [("", 4)] and old.search(FLOODS, 1).hits[0].article.language == ""
    with pytest.raises(QueryError, match="update it with `news-search index PATH --update`"):
        old.search(FLOODS, 1, filters=make_filters(languages=["de"]))
    update_index([EUROPE], folder, model=words.name, embedder=words)
    assert dict(Searcher(folder, embedder=words).languages()) == {"de": 1, "fr": 1, "en": 1,
                                                                     "": 1}
    with sqlite3.connect(current_build(folder) / "meta.sqlite") as conn:  # storage/schema.py
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.VERSION


def test_the_api_page_and_cli_filter_by_language(index, words):
    client = create_app({"INDEX_DIR": str(index), "EMBEDDER": words}).test_client()
    body = client.get("/api/search", query_string={"q": FLOODS, "language": "fr"}).get_json()
    assert [r["article"]["language"] for r in body["results"]] == ["fr"]
    assert body["filters"]["language"] == ["fr"]
    assert (
        client.get("/api/search", query_string={"q": FLOODS, "language": "xx"}).status_code == 400
    )
    sources = client.get("/api/sources").get_json()
    assert {x["language"] for x in sources["languages"]} == {"de", "fr", "en", ""}
    rows = client.get("/api/export", query_string={"q": "Hamburg", "language": "de",
                                                   "format": "jsonl"}).get_data(as_text=True)
    assert [json.loads(r)["article_id"] for r in rows.splitlines()] == ["de-1"]
    batch = client.post("/api/batch", json={"questions": [FLOODS], "language": ["en"]}).get_json()
    assert [r["article"]["id"] for r in batch["answers"][0]["results"]] == ["en-1"]
    page = client.get("/", query_string={"q": FLOODS}).get_data(as_text=True)
    assert '<select name="language">' in page and '<option value="de">de (1)</option>' in page
    assert '<span class="language" title="language, as detected">fr</span>' in page
    filtered = client.get("/", query_string={"q": FLOODS, "language": "de"}).get_data(as_text=True)
    assert "Hochwasser in Hamburg" in filtered and "Inondations" not in filtered
    out = CliRunner().invoke(main, ["search", FLOODS, "--language", "fr", "--index-dir",
                                    str(index)], obj={"embedder": words})
    assert out.exit_code == 0, out.output
    assert "Inondations à Lyon" in out.output and "Hamburg" not in out.output
    assert " · fr · " in out.output


def test_a_copy_of_the_index_keeps_its_languages(index, tmp_path, words):
    copy = tmp_path / "copy"
    shutil.copytree(index, copy)
    # nothing new: the languages stay
    update_index([EUROPE], copy, model=words.name, embedder=words)
    assert dict(Searcher(copy, embedder=words).languages()) == {"de": 1, "fr": 1, "en": 1,
                                                                   "": 1}
