"""Syndicated duplicates: found at index time, shown once at query time with their outlets."""

from __future__ import annotations

import pytest

from helpers import DATA
from indexer import Article, Searcher, build_index, make_filters
from indexer.analysis.stories import story_ids
from webapp import create_app

STORM = DATA / "syndicated" / "storm.jsonl"


def test_exact_and_near_copies_within_days_are_one_story():
    from indexer.building.pipeline import read_unique
    from indexer.reading.report import ReadReport

    articles = read_unique([STORM], ReadReport())
    stories = dict(zip((a.id for a in articles), story_ids(articles)))
    assert stories["storm-copy"] == "storm-agency"  # same words, other case and spacing
    assert stories["storm-edited"] == "storm-agency"  # a few words changed, a sentence added
    assert stories["storm-rerun"] == "storm-rerun"  # the same text six weeks later: a re-run
    assert stories["storm-followup"] == "storm-followup"  # same topic, another story


def test_undated_copies_are_grouped_and_headlines_alone_are_not():
    a = Article("a", "Title", "One two three four five six seven eight nine ten.")
    b = Article("b", "Other title", "One two three four five six seven eight nine ten.")
    c, d = Article("c", "Same headline", ""), Article("d", "Same headline", "")
    assert story_ids([a, b, c, d]) == ["a", "a", "c", "d"]


BODY = "The river burst its banks overnight and three hundred homes were flooded in the valley."


@pytest.mark.parametrize(("apart", "same"), [(0, True), (3, True), (4, False), (30, False)])
def test_dated_copies_are_one_story_only_within_three_days(apart, same):
    first = Article("first", "Flood", BODY, date="2022-03-01")
    later = Article("later", "Flood", BODY, date=f"2022-03-{1 + apart:02d}")
    assert story_ids([first, later]) == ["first", "first" if same else "later"]


def test_a_dated_copy_and_an_undated_one_are_one_story():
    dated = Article("dated", "Flood", BODY, date="2022-03-01")
    undated = Article("undated", "Flood", BODY)
    assert story_ids([dated, undated]) == ["dated", "dated"]
    assert story_ids([undated, dated]) == ["undated", "undated"]


@pytest.fixture(scope="module")
def searcher(tmp_path_factory, words) -> Searcher:
    folder = tmp_path_factory.mktemp("storm-index")
    build_index([STORM], folder, embedder=words)
    return Searcher(folder, embedder=words)


def test_a_story_appears_once_with_the_outlets_that_also_published_it(searcher):
    result = searcher.search("storm power cut homes", 10)
    ids = [h.article.id for h in result.hits]
    trio = {"storm-agency", "storm-copy", "storm-edited"}
    assert len(set(ids) & trio) == 1 and {"storm-rerun", "storm-followup"} <= set(ids)
    story = next(h for h in result.hits if h.article.id in trio)
    outlets = {a.source for a in story.copies} | {story.article.source}
    assert outlets == {"North Agency", "Coast Herald", "Valley Post"}
    assert result.total == 3
    flat = searcher.search("storm power cut homes", 10, group="passage")
    assert len({h.article.id for h in flat.hits}) == 5  # every copy, when asked for passages


def test_a_filter_on_one_outlet_still_finds_its_copy(searcher):
    result = searcher.search(
        "storm power cut homes", 10, filters=make_filters(sources=["Valley Post"])
    )
    assert [h.article.id for h in result.hits] == ["storm-edited"]


def test_page_and_api_show_also_published(searcher, words):
    client = create_app({"INDEX_DIR": str(searcher.index_dir), "EMBEDDER": words}).test_client()
    data = client.get("/api/search?q=storm+power+cut+homes").get_json()
    story = next(r for r in data["results"] if r["also_published"])
    assert {a["source"] for a in story["also_published"]} | {story["article"]["source"]} == \
        {"North Agency", "Coast Herald", "Valley Post"}
    page = client.get("/?q=storm+power+cut+homes").get_data(as_text=True)
    assert "Also published by 2 other outlets" in page


def test_cli_shows_where_else_a_story_was_published(searcher, words):
    from click.testing import CliRunner

    from webapp.cli import main

    result = CliRunner().invoke(main, ["search", "storm power cut homes", "--index-dir",
                                       str(searcher.index_dir)], obj={"embedder": words})
    assert result.exit_code == 0
    line = next(x for x in result.output.splitlines() if "also published by" in x)
    assert line.count("(2022-02-0") == 2
