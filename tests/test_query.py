"""The query syntax (indexer/query.py): phrases, +must, -must-not and title:, everywhere a
question is taken; plain questions as before; errors that point at the column."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer import QueryError
from indexer.query import Term, parse
from webapp import create_app
from webapp.cli import main


@pytest.mark.parametrize("query, text, required, excluded", [
    ('"read my lips" Bush', "read my lips Bush", [("read my lips", True, False)], []),
    ("+Aleppo rebels -Mosul", "Aleppo rebels", [("Aleppo", False, False)],
     [("Mosul", False, False)]),
    ('title:Brexit +title:"white paper" vote', "Brexit white paper vote",
     [("Brexit", False, True), ("white paper", True, True)], []),
    ('storks -title:"church roof"', "storks", [], [("church roof", True, True)]),
])
def test_operators_are_read(query, text, required, excluded):
    parsed = parse(query)
    assert parsed.text == text
    assert [(t.text, t.phrase, t.title) for t in parsed.required] == required
    assert [(t.text, t.phrase, t.title) for t in parsed.excluded] == excluded


@pytest.mark.parametrize("query", [
    "how many rebels were in east Aleppo?", "Kim Jong-nam", "abortion - even in rape cases",
    "temperatures fell to -5C", "1+1", 'sanctions "?ambassador', "Movie title: Jaws",
    'reports come ""probably from the Obama administration""', "what +/- means"])
def test_what_only_looks_like_an_operator_is_a_plain_question(query):
    parsed = parse(query)
    assert parsed.plain and parsed.text == query


@pytest.mark.parametrize("query, message", [
    ("-Trump", "only excludes"),
    ('+"" harbour', 'phrase at column 2 holds no word'),
    ('bridge title:""', 'phrase at column 14 holds no word'),
])
def test_a_malformed_query_says_where(query, message):
    with pytest.raises(QueryError, match=message):
        parse(query)


def test_terms_match_by_stem_phrases_by_their_words_in_order():
    from indexer.query import Query

    title, text = "Harbour bridge closed", "The bridge was closed after a cargo ship struck it."

    def holds(term: Term) -> bool:
        return Query("x", (term,)).admits(title, text)

    assert holds(Term("closing"))  # "closing" and "closed": one stem
    assert holds(Term("cargo ship", phrase=True))
    assert not holds(Term("ship cargo", phrase=True))
    assert holds(Term("CARGO-ship", phrase=True))  # case and punctuation aside
    assert not holds(Term("cargo", title=True))  # not in the headline
    assert Query("x", (Term("bridge", title=True),), (Term("storm"),)).admits(title, text)
    assert not Query("x", (), (Term("struck"),)).admits(title, text)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('ab +-":title ΩΩ1\t')), max_size=40))
def test_any_text_parses_or_is_a_query_error(text):
    try:
        parsed = parse(text)
    except QueryError:
        return
    assert parsed.text.strip() or not text.strip()
    if '"' not in text and "+" not in text and "-" not in text and ":" not in text:
        assert parsed.plain and parsed.text == text


def test_the_api_the_page_and_the_cli_take_the_syntax(words_index, words):
    client = create_app({"INDEX_DIR": str(words_index), "EMBEDDER": words}).test_client()

    def titles(q: str) -> list[str]:
        body = client.get("/api/search", query_string={"q": q, "k": 20}).get_json()
        return [r["article"]["title"] for r in body["results"]]

    everything = titles("bridge")
    assert any("bridge" in t.lower() for t in everything) and len(everything) > 3
    assert titles('"harbour bridge"') == [t for t in everything if "Harbour bridge" in t]
    assert titles("title:bridge") == [t for t in everything if "bridge" in t.lower()]
    assert not any("bridge" in t.lower() for t in titles("bridge -title:bridge"))
    assert set(titles("bridge -harbour")) < set(everything)
    bad = client.get("/api/search", query_string={"q": 'bridge title:""'})
    assert bad.status_code == 400 and "column 14" in bad.get_json()["error"]["message"]
    assert client.get("/api/timeline", query_string={"q": "-bridge"}).status_code == 400
    page = client.get("/", query_string={"q": '"harbour bridge"'}).get_data(as_text=True)
    assert "Harbour bridge closed" in page and "Drought" not in page
    out = CliRunner().invoke(main, ["search", "title:bridge", "--index-dir", str(words_index)],
                             obj={"embedder": words})
    assert out.exit_code == 0 and out.output.count("\n1. ") + out.output.startswith("1. ") == 1


@pytest.mark.parametrize("query", [
    '"central bank" rates', "+city -council", "water -city", 'title:"city council" x',
    '+the bridge', '-"of the" bridge', "+closings", '"the city" -title:council', "rain -the",
    "+central -bank", '"harbour bridge" storm', "+students"])
def test_the_keyword_index_settles_what_it_can_exactly(words_searcher, query):
    """admitted() reads only the articles the keyword index cannot settle (the stems of a
    required term missing, or of every excluded term): what it keeps is what reading every
    article keeps."""
    from indexer.search.ranking import admitted

    build = words_searcher._current()
    ids = np.flatnonzero(build.owners >= 0)
    owners = build.owners[ids]
    parsed = parse(query)
    found = build.passages(ids.tolist())
    texts = dict(zip(sorted({a.id for _, a in found.values()}), build.excerpts(
        [(aid, 0, 1 << 30) for aid in sorted({a.id for _, a in found.values()})])))
    every = np.array([parsed.admits(found[pid][1].title, texts[found[pid][1].id])
                      for pid in ids.tolist()])
    assert admitted(build, ids, owners, parsed).tolist() == every.tolist()


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(list("ab ,.'’-_\n1éж“") + ["the", "Ab", "dying", "die"]),
                max_size=30).map("".join),
       st.lists(st.sampled_from(list("ab ,.'-1é") + ["the", "dy", "die"]), min_size=1,
                max_size=8).map("".join))
def test_a_term_is_held_as_splitting_the_text_into_words_says(text, term):
    """Term.held_by finds words and phrases without splitting the whole text: what it finds is
    what comparing against every word of the text finds (a phrase by its words in order, a word
    by its stem)."""
    from indexer.query import _Article, words
    from indexer.terms import WORD, fold, stem

    tokens = WORD.findall(fold(term))
    for phrase in (True, False):
        held = Term(term, phrase=phrase).held_by(_Article("", text))
        if not phrase and len(tokens) == 1:
            expected = stem(tokens[0]) in {stem(w) for w in WORD.findall(fold(f"\n{text}"))}
        else:
            expected = f" {' '.join(tokens)} " in f" {words(chr(10) + text)} "
        assert held == expected, (text, term, phrase)


def test_words_are_settled_by_the_index_unread(words_searcher, monkeypatch):
    """A required or excluded word is settled by the build's keyword index and its record of
    stopwords alone: no article is read for "+bridge -harbour" or "+the -said"; a phrase is
    read, in the articles that hold its words' stems only."""
    from indexer.search.ranking import admitted

    build = words_searcher._current()
    ids = np.flatnonzero(build.owners >= 0)
    asked: list[list[str]] = []
    monkeypatch.setattr(build, "excerpts", lambda spans: asked.append(
        [aid for aid, _, _ in spans]) or [""] * len(spans))
    admitted(build, ids, build.owners[ids], parse("bridge +bridge -harbour"))
    admitted(build, ids, build.owners[ids], parse("bridge +the -said -saying"))  # stopwords too
    assert asked == []
    admitted(build, ids, build.owners[ids], parse('"cargo ship" storm'))
    assert len(asked) == 1 and 0 < len(asked[0]) < len(set(build.owners[ids].tolist()))


def test_a_build_without_its_stopwords_record_reads_for_them(words_index, tmp_path):
    """A build made before the record of stopwords (storage/stopwords.py) reads the articles
    for "+the" and "-said", and keeps what a build with the record keeps."""
    import shutil

    from indexer.retrieval.local import LocalBuild
    from indexer.search.ranking import admitted
    from indexer.storage.indexdir import current_build

    folder = tmp_path / "older"
    shutil.copytree(current_build(words_index), folder)
    shutil.rmtree(folder / "bm25" / "stopwords")
    builds = [LocalBuild(f, "test-words") for f in (current_build(words_index), folder)]
    assert builds[0].stopwords is not None and builds[1].stopwords is None
    for query in ("bridge +the", "rain -said", "storm -saying", "+closings -the"):
        found = [admitted(b, ids, b.owners[ids], parse(query)).tolist()
                 for b in builds for ids in [np.flatnonzero(b.owners >= 0)]]
        assert found[0] == found[1], query
