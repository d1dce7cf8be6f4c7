"""The JSON API under generated input: never a 5xx, and every response matches the OpenAPI
document it publishes (the checks schemathesis makes, driven by hypothesis directly)."""

from __future__ import annotations

import urllib.parse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from webapp import create_app

hostile = st.sampled_from(["", " ", "0", "-1", "101", "1e3", "NaN", "null", "[]", "{}", "'", '"',
                           "<script>", "../../etc/passwd", "\x00", "\u202e", "🙂", "x" * 1500,
                           "2016-12-10", "2016-13-40", "hybrid", "keyword", "article", "date"])
value = st.one_of(hostile, st.text(max_size=40))
names = st.sampled_from(["q", "k", "mode", "since", "until", "source", "group", "page", "sort",
                         "recency", "explain", "interval", "stories", "zzz"])
params = st.lists(st.tuples(names, value), max_size=6)


@pytest.fixture(scope="module")
def api(archive_index, embedder):
    client = create_app({"INDEX_DIR": str(archive_index), "EMBEDDER": embedder}).test_client()
    doc = client.get("/api/openapi.json").get_json()
    Draft202012Validator.check_schema(doc["components"]["schemas"]["Result"])
    return client, doc


def _validator(doc: dict, path: str, status: int) -> Draft202012Validator:
    response = doc["paths"][path]["get"]["responses"][str(status)]
    schema = response["content"]["application/json"]["schema"]
    return Draft202012Validator({**schema, "components": doc["components"]})


@pytest.mark.parametrize("path", ["/api/search", "/api/timeline"])
@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=params, q=value)
def test_no_5xx_and_every_response_matches_the_schema(api, path, query, q):
    client, doc = api
    response = client.get(path + "?" + urllib.parse.urlencode([("q", q), *query]))
    assert response.status_code in (200, 400), response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    errors = sorted(_validator(doc, path, response.status_code).iter_errors(response.get_json()),
                    key=str)
    assert not errors, errors[0]


def test_the_other_endpoints_match_the_schema(api):
    client, doc = api
    for path in ("/api/health", "/api/sources"):
        response = client.get(path)
        assert response.status_code == 200
        assert not list(_validator(doc, path, 200).iter_errors(response.get_json()))


batch_bodies = st.fixed_dictionaries(
    {"questions": st.lists(value, min_size=0, max_size=4)},
    optional={"k": st.one_of(st.integers(-2, 12), value), "mode": value, "since": value,
              "source": st.one_of(value, st.lists(value, max_size=2)), "zzz": value})


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.one_of(batch_bodies, st.lists(value, max_size=2), value))
def test_batch_never_5xx_and_matches_the_schema(api, body):
    client, doc = api
    response = client.post("/api/batch", json=body)
    assert response.status_code in (200, 400), response.get_data(as_text=True)
    spec = doc["paths"]["/api/batch"]["post"]["responses"][str(response.status_code)]
    validator = Draft202012Validator({**spec["content"]["application/json"]["schema"],
                                      "components": doc["components"]})
    errors = sorted(validator.iter_errors(response.get_json()), key=str)
    assert not errors, errors[0]
