"""The timeline: stories per period, in the library, the JSON API and the results page."""

from __future__ import annotations

import pytest

from indexer import QueryError, make_filters
from indexer.timeline import count_by_period
from webapp import create_app


def test_counts_fill_gaps_and_keep_undated_apart():
    t = count_by_period(["2016-12-05", "2016-12-07T10:00:00", "2017-01-02", "raw", "2016-12-05"],
                        "week")
    assert [(b.start.isoformat(), b.end.isoformat(), b.count) for b in t.buckets] == [
        ("2016-12-05", "2016-12-11", 3), ("2016-12-12", "2016-12-18", 0),
        ("2016-12-19", "2016-12-25", 0), ("2016-12-26", "2017-01-01", 0),
        ("2017-01-02", "2017-01-08", 1)]
    assert t.undated == 1 and t.peak == 3


def test_auto_and_too_fine_intervals_keep_the_chart_readable():
    assert count_by_period(["2016-12-05", "2016-12-20"]).interval == "day"
    assert count_by_period(["2016-12-05", "2017-03-01"]).interval == "week"
    assert count_by_period(["2004-01-01", "2017-03-01"]).interval == "month"
    wide = count_by_period(["1987-02-26", "2017-03-01", "2017-03-02"], "day")
    assert wide.interval == "month" and len(wide.buckets) <= 400
    assert sum(b.count for b in wide.buckets) == 3  # nothing dropped


def test_timeline_of_a_query_counts_each_story_once(archive_searcher):
    t = archive_searcher.timeline("news", interval="year", stories=100)
    assert sum(b.count for b in t.buckets) + t.undated == 11
    assert t.undated == 1  # the CSV row dated "not a date"
    filtered = archive_searcher.timeline("news", filters=make_filters(sources=["Wire Service"]),
                                         interval="month")
    assert sum(b.count for b in filtered.buckets) == 3
    with pytest.raises(QueryError, match="interval must be one of"):
        archive_searcher.timeline("news", interval="hour")


@pytest.fixture(scope="module")
def client(archive_index, embedder):
    return create_app({"INDEX_DIR": str(archive_index), "EMBEDDER": embedder}).test_client()


def test_api_timeline(client):
    data = client.get("/api/timeline?q=news&interval=year&source=Wire+Service").get_json()
    assert data["interval"] == "year" and data["filters"] == {"source": ["Wire Service"]}
    assert [(b["start"], b["count"]) for b in data["buckets"]] == [("2022-01-01", 2), ("2023-01-01", 1)]
    assert client.get("/api/timeline?q=news&interval=hour").status_code == 400
    assert client.get("/api/timeline?q=news&k=3").status_code == 400  # not a timeline parameter
    assert client.get("/api/timeline").get_json()["error"]["message"].startswith("the query is empty")


def test_results_page_has_a_chart_whose_bars_filter_to_their_period(client):
    page = client.get("/?q=news&k=3&page=2").get_data(as_text=True)
    assert '<figure class="timeline">' in page and "<svg" in page and "<script" not in page
    assert "/?q=news&amp;k=3&amp;since=2016-12-01&amp;until=2016-12-31" in page  # page dropped
