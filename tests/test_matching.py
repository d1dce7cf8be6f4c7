"""What matches a question (search/matching.py): the stories the page, timelines, facets,
exports and the API count, checked against stories whose membership is known."""

from __future__ import annotations

import json

import numpy as np
import pytest

from indexer import make_filters
from indexer.search import matching
from webapp import create_app

# The fixture archive's stories that say "year" or "years", and no other.
SAY_YEAR = {"000_7d05609f62b32f10", "7fbe9925f704d93c", "drought", "features/cycling-lanes",
            "wire-001", "wire-005"}


def ids(result) -> set[str]:
    return {h.article.id for h in result.hits}


def test_a_word_matches_every_story_that_holds_it_and_no_other(words_searcher):
    result = words_searcher.search("years", 100, matching_only=True)
    assert ids(result) == SAY_YEAR and result.matching == result.total == 6
    ranked = words_searcher.search("years", 100)
    assert ranked.matching == 6 and ranked.total > 6  # the ranking reaches further
    assert [h.rank for h in result.hits] == list(range(1, 7))


def test_words_match_when_they_carry_most_of_the_questions_weight(words_searcher):
    """"bridge closed": the bridge's story holds both; the Aleppo story holds "closed" but not
    the rarer "bridge", too little of the weight."""
    assert ids(words_searcher.search("bridge closed", 100, matching_only=True)) == \
        {"harbour-bridge"}
    assert ids(words_searcher.search("museum theft", 100, matching_only=True)) == set()
    assert words_searcher.search("zebra quokka", 10).matching == 0  # words no story holds


def test_filters_and_operators_narrow_the_set(words_searcher):
    wire = words_searcher.search("years", 100, filters=make_filters(sources=["Wire Service"]),
                                 matching_only=True)
    assert ids(wire) == {"wire-001", "wire-005"}
    assert ids(words_searcher.search("years -inflation", 100, matching_only=True)) == \
        SAY_YEAR - {"wire-001"}


def test_every_count_counts_the_same_set(words_searcher, words_index, words):
    """The page's count, the timeline, the facets, the export and the bars' links agree."""
    t = words_searcher.timeline("years", interval="year")
    assert t.matching == t.stories == sum(b.count for b in t.buckets) + t.undated == 6
    assert words_searcher.facets("years").stories == 6
    client = create_app({"INDEX_DIR": str(words_index), "EMBEDDER": words}).test_client()
    rows = client.get("/api/export?q=years&format=jsonl").get_data(as_text=True).splitlines()
    assert {json.loads(r)["article_id"] for r in rows} == SAY_YEAR
    for bucket in t.buckets:
        listed = client.get("/api/search", query_string={
            "q": "years", "since": bucket.start.isoformat(), "until": bucket.end.isoformat(),
            "match": "true", "k": 100}).get_json()
        assert len(listed["results"]) == bucket.count


def test_meaning_matches_what_the_words_miss(archive_searcher, embedder):
    """The museum raid's story says "thieves" and "jewels", never "stolen": the question
    matches it by meaning in hybrid mode, not in keyword mode; what matches by meaning is
    every passage as close as the model's bar, measured here without the index."""
    question = "jewels stolen from a museum"
    assert ids(archive_searcher.search(question, 100, matching_only=True)) == {"csv-1"}
    assert ids(archive_searcher.search(question, 100, "keyword", matching_only=True)) == set()
    bar = matching.MEANING_BARS[embedder.name]
    owners = archive_searcher.passage_articles()
    texts = {pid: p.text for aid in set(owners.values())
             for pid, p in archive_searcher.article_passages(aid)}
    pids = sorted(texts)
    near = embedder.encode([texts[p] for p in pids]) @ embedder.encode_query(question)[0]
    assert {owners[p] for p, n in zip(pids, near) if n > bar} == {"csv-1"}


@pytest.mark.parametrize("mode", ["hybrid", "semantic", "keyword"])
def test_the_seed_question_matches_its_story_in_every_mode(archive_searcher, mode):
    found = archive_searcher.search("how many rebels were in east Aleppo before the assault?",
                                    10, mode, matching_only=True)
    assert [h.article.id for h in found.hits] == ["000_7d05609f62b32f10"]
    assert np.isfinite(found.hits[0].score)
