"""The timeline: stories per period, in the library, the JSON API and the results page."""

from __future__ import annotations

import pytest

from indexer import QueryError, make_filters
from indexer.search.timeline import count_by_period
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


def test_timeline_of_a_query_counts_each_story_that_matches_once(words_searcher):
    """Three stories say "hours" (the library's, the marathon's, the bridge's): each counted
    once, in its period, the undated one apart, however many passages it has."""
    t = words_searcher.timeline("hours", interval="year")
    assert {b.start.year: b.count for b in t.buckets if b.count} == {2021: 1, 2023: 1}
    assert t.undated == 1 and t.stories == 3  # the CSV row dated "not a date"
    assert words_searcher.search("hours").matching == 3
    filtered = words_searcher.timeline("year", filters=make_filters(sources=["Wire Service"]),
                                         interval="month")
    assert sum(b.count for b in filtered.buckets) == 2  # the bank's and the chess prodigy's
    with pytest.raises(QueryError, match="interval must be one of"):
        words_searcher.timeline("news", interval="hour")


@pytest.fixture(scope="module")
def client(words_index, words):
    return create_app({"INDEX_DIR": str(words_index), "EMBEDDER": words}).test_client()


def test_api_timeline(client):
    data = client.get("/api/timeline?q=year&interval=year&source=Wire+Service").get_json()
    assert data["interval"] == "year" and data["filters"] == {"source": ["Wire Service"]}
    assert [(b["start"], b["count"]) for b in data["buckets"]] == [
        ("2022-01-01", 1),
        ("2023-01-01", 1),
    ]
    assert data["stories"] == data["matching"] == 2
    assert client.get("/api/timeline?q=news&interval=hour").status_code == 400
    assert client.get("/api/timeline?q=news&k=3").status_code == 400  # not a timeline parameter
    assert (
        client.get("/api/timeline").get_json()["error"]["message"].startswith("the query is empty")
    )


def test_results_page_has_a_chart_whose_bars_list_what_they_count(client):
    page = client.get("/?q=year&k=3&page=2").get_data(as_text=True)
    assert '<figure class="timeline">' in page and "<svg" in page and "<script" not in page
    bar = "/?q=year&amp;k=3&amp;since=2016-12-01&amp;until=2016-12-31&amp;match=true"
    assert bar in page  # page dropped
    listed = client.get(bar.replace("&amp;", "&")).get_data(as_text=True)
    assert listed.count('<li class="result">') == 1 and "Aleppo" in listed


def _dated_articles(searcher) -> list[str]:
    ids = set(searcher.passage_articles().values())
    return [d[:10] for d in (searcher.article(i).date for i in ids) if d[:4].isdigit()]


def test_a_share_divides_by_every_story_of_the_period(words_searcher):
    t = words_searcher.timeline("year", interval="year", stories=3, share=True)
    by_year: dict[str, int] = {}
    for day in _dated_articles(words_searcher):  # no copies here: a story an article
        by_year[day[:4]] = by_year.get(day[:4], 0) + 1
    years = {b.start.isoformat()[:4] for b in t.buckets}  # those of the stories counted
    assert {b.start.isoformat()[:4]: b.total for b in t.buckets} == \
        {y: by_year.get(y, 0) for y in years}
    assert sum(b.count for b in t.buckets) + t.undated == 3
    for b in t.buckets:
        assert b.share == (b.count / b.total if b.total else 0.0) and 0 <= b.share <= 1
    only = words_searcher.timeline("year", filters=make_filters(sources=["Wire Service"]),
                                     interval="year", share=True)
    assert sum(b.total for b in only.buckets) == 3  # the filters' stories only
    assert "total" not in words_searcher.timeline("year").to_dict()["buckets"][0]


def test_shares_of_syndicated_copies_count_a_story_once(tmp_path, words):
    from helpers import DATA
    from indexer import Searcher, build_index

    build_index([DATA / "syndicated"], tmp_path / "ix", embedder=words)
    searcher = Searcher(tmp_path / "ix", embedder=words)
    t = searcher.timeline("storm", interval="year", share=True)
    stories = len({h.article.id for h in searcher.search("storm", 100).hits})
    articles = len(_dated_articles(searcher))
    assert sum(b.total for b in t.buckets) == stories < articles
    assert all(b.share <= 1 for b in t.buckets)


def test_questions_compared_are_counted_on_the_same_periods(words_searcher):
    one, two = words_searcher.timelines("year", compare=["city"], interval="month", stories=2)
    assert (one.query, two.query) == ("year", "city")
    assert [b.start for b in one.buckets] == [b.start for b in two.buckets]
    for t in (one, two):
        alone = words_searcher.timeline(t.query, interval="month", stories=2)
        assert {b.start: b.count for b in alone.buckets if b.count} == \
            {b.start: b.count for b in t.buckets if b.count}
    one, two = words_searcher.timelines("year", compare=["city"], interval="year", stories=1)
    assert [b.start.year for b in one.buckets] == [b.start.year for b in two.buckets]
    assert sum(b.count for b in one.buckets) == sum(b.count for b in two.buckets) == 1
    with pytest.raises(QueryError, match="at most 2 questions to compare"):
        words_searcher.timelines("a", compare=["b", "c", "d"])


def test_facets_name_the_outlets_and_words_of_the_matching_stories(words_searcher):
    f = words_searcher.facets("year")
    outlets = {}
    for hit in words_searcher.search("year", 100, matching_only=True).hits:
        if hit.article.source:
            outlets[hit.article.source] = outlets.get(hit.article.source, 0) + 1
    assert dict(f.outlets) == outlets and f.stories == 6  # the six that say "year(s)"
    words = dict(f.words)
    assert words and not {"year", "the", "said"} & {w.lower() for w in words}
    assert all(n >= 2 for n in words.values())  # in two stories at least
    from indexer.terms import WORD, word_stem

    stems = [{word_stem(w) for w in WORD.findall(f"{a.title} {a.text}")} for a in
             (words_searcher.article(h.article.id) for h in
              words_searcher.search("year", 100, matching_only=True).hits)]
    for word, n in words.items():  # found in the stories (their best passages are in them)
        assert sum(word_stem(word) in s for s in stems) >= n


def test_api_timeline_shares_compares_and_facets(client):
    from jsonschema import Draft202012Validator

    doc = client.get("/api/openapi.json").get_json()

    def valid(path: str, body: dict) -> None:
        schema = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"][
            "schema"]
        Draft202012Validator({**schema, "components": doc["components"]}).validate(body)

    body = client.get("/api/timeline", query_string={
        "q": "year", "share": "true", "compare": ["city"]}).get_json()
    valid("/api/timeline", body)
    assert [c["query"] for c in body["compare"]] == ["city"]
    assert (body["matching"], body["compare"][0]["matching"]) == (6, 3)
    assert body["stories"] == sum(b["count"] for b in body["buckets"]) + body["undated"] == 6
    assert all("share" in b for b in body["buckets"] + body["compare"][0]["buckets"])
    assert client.get("/api/timeline?q=x&share=maybe").status_code == 400
    assert client.get("/api/timeline?q=x&compare=a&compare=b&compare=c").status_code == 400
    facets = client.get("/api/facets?q=year&stories=5").get_json()
    valid("/api/facets", facets)
    assert facets["stories"] == 5 and facets["outlets"]  # the 5 best of the 6
    assert client.get("/api/facets?q=news&interval=day").status_code == 400


def test_results_page_compares_questions_as_shares(client):
    page = client.get("/", query_string={"q": "year", "share": "true",
                                         "compare": ["city", ""]}).get_data(as_text=True)
    assert 'class="bar s1"' in page and 'class="bar s2"' not in page
    assert "as a share of all the stories" in page and "% of the stories" in page
    assert 'name="compare" value="city"' in page
    assert 'class="facets"' in page


def test_cli_timeline_compares_shares_and_names_outlets_and_words(words_index, words):
    from click.testing import CliRunner

    from webapp.cli import main

    out = CliRunner().invoke(main, ["timeline", "year", "--compare", "city",
                                    "--share", "--interval", "year", "--stories", "2",
                                    "--index-dir", str(words_index)], obj={"embedder": words})
    assert out.exit_code == 0, out.output
    assert "A: year  B: city" in out.output
    assert "6 stories match 'year' by meaning or words; the best 2 counted" in out.output
    assert "%" in out.output and "Top outlets: " in out.output
    data = CliRunner().invoke(main, ["timeline", "year", "--json", "--index-dir",
                                     str(words_index)], obj={"embedder": words}).output
    import json

    parsed = json.loads(data)
    assert parsed["facets"]["stories"] == parsed["stories"] == 6 and "compare" not in parsed
