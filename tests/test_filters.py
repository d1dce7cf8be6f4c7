"""Filters, one result per article, and stable pages: in the library, the API and the CLI."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from indexer import QueryError, make_filters
from webapp import create_app
from webapp.cli import main

WIRE = {"wire-001", "wire-002", "wire-005"}


def ids(result) -> list[str]:
    return [h.article.id for h in result.hits]


def test_date_range_keeps_only_articles_dated_inside_it(words_searcher):
    result = words_searcher.search("news", 10, filters=make_filters("2021-01-01", "2021-12-31"))
    assert sorted(ids(result)) == ["drought", "features/cycling-lanes", "harbour-bridge"]
    assert all("2021" <= h.article.date[:4] <= "2021" for h in result.hits)
    whole_day = words_searcher.search(
        "news", 10, filters=make_filters("2021-07-02", "2021-07-02")
    )
    assert ids(whole_day) == ["drought"]  # dated 2021-07-02T08:30:00+00:00: the day includes it
    by_month = words_searcher.search("news", 10, filters=make_filters(until="2019-11"))
    assert "csv-2" not in ids(by_month)  # its date is raw text: a date filter never admits it
    assert set(ids(by_month)) == {"csv-1", "000_7d05609f62b32f10"}


def test_a_narrow_filter_still_fills_the_page(words_searcher):
    # The semantic best matches for this question are elsewhere; the filter is applied inside
    # the search, so the page is filled from the three wire stories, not left empty.
    result = words_searcher.search("bridge closed to traffic", 2,
                                     filters=make_filters(sources=["wire service"]))
    assert len(result.hits) == 2 and set(ids(result)) <= WIRE and result.has_more
    rest = words_searcher.search("bridge closed to traffic", 2, page=2,
                                   filters=make_filters(sources=["Wire Service"]))
    assert len(rest.hits) == 1 and not rest.has_more
    assert set(ids(result)) | set(ids(rest)) == WIRE


def test_several_sources_and_nothing_matching(words_searcher):
    both = words_searcher.search("news", 10, filters=make_filters(sources=["AFP", "Campus News"]))
    assert {h.article.source for h in both.hits} == {"AFP", "Campus News"}
    with pytest.raises(QueryError, match="no outlet 'Nobody' in this index; its outlets: "
                                         "Wire Service, Campus News, AFP"):
        words_searcher.search("news", 10, filters=make_filters(sources=["Nobody"]))


@pytest.mark.parametrize("asked, found", [
    ("wire service", {"Wire Service"}), ("WIRE-SERVICE", {"Wire Service"}),
    ("daily.example", {"daily.example"}), ("www.daily.example", {"daily.example"}),
    ("Daily", {"daily.example"}), ("campus", {"Campus News"})])
def test_outlets_are_found_by_the_names_people_use(words_searcher, asked, found):
    result = words_searcher.search("news museum", 10, filters=make_filters(sources=[asked]))
    assert result.hits and {h.article.source for h in result.hits} == found
    assert set(result.filters.sources) == found  # the answer says which outlets were meant


def test_an_unknown_outlet_is_a_400_that_names_the_known_ones(client):
    response = client.get("/api/search?q=news&source=CNN")
    assert response.status_code == 400
    message = response.get_json()["error"]["message"]
    assert "no outlet 'CNN'" in message and "Wire Service" in message and "AFP" in message


def test_hosts_are_kept_without_www_and_lower_cased():
    from indexer import make_article

    assert make_article({"title": "T", "source": "www.CNN.com"}).source == "cnn.com"
    assert make_article({"title": "T", "url": "https://www.bbc.co.uk/x"}).source == "bbc.co.uk"
    assert make_article({"title": "T", "source": "The Times"}).source == "The Times"


@pytest.mark.parametrize("since, until", [("2016-12-05", "2016-12"), ("2016-12", "2016"),
                                          ("2016", "2016-01-01"), ("2016-02", "2016-02-29")])
def test_dates_of_different_precision_compare_as_the_periods_they_name(since, until):
    assert make_filters(since, until).since == since


def test_a_period_that_ends_before_it_starts_is_refused():
    with pytest.raises(QueryError, match=r"since \(2016-12\) is after until \(2016-11-30\)"):
        make_filters("2016-12", "2016-11-30")


def test_one_result_per_article_with_its_other_passages(words_searcher):
    result = words_searcher.search("Aleppo rebels evacuation", 10)
    assert len(ids(result)) == len(set(ids(result)))
    seed = result.hits[0]
    assert seed.article.id == "000_7d05609f62b32f10" and seed.more_count == 8
    assert all(p.article_id == seed.article.id for _, p in seed.more)
    flat = words_searcher.search("Aleppo rebels evacuation", 10, group="passage")
    assert ids(flat)[:3] == ["000_7d05609f62b32f10"] * 3


@pytest.mark.parametrize("group", ["article", "passage"])
def test_pages_never_repeat_or_skip_a_result(words_searcher, group):
    everything = [h.passage_id for h in words_searcher.search("city", 100, group=group).hits]
    paged = []
    for page in range(1, 100):
        result = words_searcher.search("city", 3, group=group, page=page)
        paged += [h.passage_id for h in result.hits]
        assert [h.rank for h in result.hits] == list(
            range(3 * page - 2, 3 * page - 2 + len(result.hits))
        )
        if not result.has_more:
            break
    assert paged == everything and result.total == len(everything)


@pytest.mark.parametrize("since, until, message", [
    ("yesterday", "", "since must be a date"),
    ("", "2021-13", "until must be a date"),
    ("2021-05-01", "2021-04-01", "since (2021-05-01) is after until (2021-04-01)"),
])
def test_bad_dates_are_refused(since, until, message):
    with pytest.raises(QueryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make_filters(since, until)


@pytest.fixture(scope="module")
def client(words_index, words):
    return create_app({"INDEX_DIR": str(words_index), "EMBEDDER": words}).test_client()


def test_api_filters_group_and_pages(client):
    data = client.get("/api/search?q=news&source=Wire+Service&source=AFP&k=2").get_json()
    assert data["filters"] == {"source": ["Wire Service", "AFP"]} and data["total"] == 4
    assert data["has_more"] and data["page"] == 1 and data["group"] == "article"
    page2 = client.get("/api/search?q=news&source=Wire+Service&source=AFP&k=2&page=2").get_json()
    assert not page2["has_more"] and [r["rank"] for r in page2["results"]] == [3, 4]
    first = {r["article"]["id"] for r in data["results"]}
    assert first.isdisjoint(r["article"]["id"] for r in page2["results"])
    seed = client.get("/api/search?q=Aleppo+rebels&k=1").get_json()["results"][0]
    assert seed["more_passages"] == 8 and len(seed["more"]) == 3


@pytest.mark.parametrize("query, message", [
    ("q=x&page=0", "page must be from 1 to 100, got 0"),
    ("q=x&page=two", "page must be a whole number"),
    ("q=x&group=story", "group must be one of article, passage"),
    ("q=x&since=last+week", "since must be a date"),
    ("q=x&mode=fuzzy", "mode must be one of hybrid, semantic, keyword"),
])
def test_api_bad_filter_parameters(client, query, message):
    response = client.get("/api/search?" + query)
    assert response.status_code == 400 and response.get_json()["error"]["message"].startswith(
        message
    )


def test_page_has_filters_and_pagination_links(client):
    page = client.get("/?q=news&k=2&source=Wire+Service").get_data(as_text=True)
    assert '<select name="source">' in page and '<option value="Wire Service" selected>' in page
    assert 'rel="next" href="/?q=news&amp;k=2&amp;source=Wire+Service&amp;page=2"' in page
    assert 'rel="prev"' not in page
    page3 = client.get("/?q=Aleppo+rebels&k=1").get_data(as_text=True)
    assert "8 more passages from this article" in page3 and "<details" in page3
    sources = client.get("/api/sources").get_json()["sources"]
    assert {"source": "Wire Service", "articles": 3} in sources


def test_cli_filters(words_index, words):
    result = CliRunner().invoke(main, ["search", "news", "--source", "Wire Service", "--since",
                                       "2022-10-01", "--index-dir", str(words_index)],
                                obj={"embedder": words})
    assert result.exit_code == 0, result.output
    titles = [line for line in result.output.splitlines() if line[:2] in ("1.", "2.", "3.")]
    assert len(titles) == 2 and "Volcano" in result.output and "interest" not in result.output
    bad = CliRunner().invoke(main, ["search", "news", "--since", "soon", "--index-dir",
                                    str(words_index)], obj={"embedder": words})
    assert bad.exit_code == 1 and "since must be a date" in bad.output


def test_sort_by_date_puts_the_newest_first_and_undated_last(words_searcher):
    result = words_searcher.search("news", 20, sort="date")
    dates = [h.article.date[:10] for h in result.hits]
    iso = [d for d in dates if d[:4].isdigit()]
    assert iso == sorted(iso, reverse=True) and dates[-1] == "not a date"
    assert set(ids(result)) == set(ids(words_searcher.search("news", 20)))


def test_recency_boost_favours_recent_articles(words_searcher):
    plain = ids(words_searcher.search("disaster forces people to leave", 11))
    boosted = ids(words_searcher.search("disaster forces people to leave", 11, recency=30))
    assert sorted(plain) == sorted(boosted) and plain != boosted
    top = words_searcher.search("disaster forces people to leave", 1, recency=30).hits[0]
    assert top.article.date.startswith("2023-05")  # the newest article in the index


def test_api_sort_and_recency_are_checked(client):
    assert client.get("/api/search?q=x&sort=oldest").status_code == 400
    assert client.get("/api/search?q=x&recency=0").status_code == 400
    data = client.get("/api/search?q=x&sort=date&recency=365").get_json()
    assert data["sort"] == "date" and data["recency"] == 365


@pytest.mark.parametrize("filters", [make_filters(sources=["Wire Service"]),
                                     make_filters("2021-01-01", "2021-12-31")])
def test_keyword_search_filters_inside_the_index(words_searcher, filters):
    """Filtered keyword search finds exactly the passages that pass, each with its unfiltered
    BM25 (the fused scores are scaled over what was found, so they may differ)."""
    query = "bridge traffic drought news interest rates volcano"
    everything = words_searcher.ranked(query, "keyword")
    passing = words_searcher.ranked(query, "keyword", filters=filters)
    allowed = set(words_searcher._current().meta.filtered_passages(filters))
    assert passing and {pid for pid, *_ in passing} < {pid for pid, *_ in everything}
    assert {pid for pid, *_ in passing} == {pid for pid, *_ in everything if pid in allowed}
    bm25 = {pid: words for pid, _, _, words in everything}
    assert all(words == pytest.approx(bm25[pid]) for pid, _, _, words in passing)
