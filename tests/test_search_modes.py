"""Keyword (BM25), semantic and hybrid search, and the fusions, on our own fixture."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import DATA
from indexer import QueryError, Searcher, build_index
from indexer.search.fusion import min_max_array, reciprocal_rank_fusion
from indexer.terms import analyse, phrases, query_stems


@pytest.fixture(scope="module")
def searcher(tmp_path_factory, embedder) -> Searcher:
    folder = tmp_path_factory.mktemp("fusion-index")
    build_index([DATA / "fusion" / "stories.jsonl"], folder, embedder=embedder)
    return Searcher(folder, embedder=embedder)


def ids(searcher: Searcher, query: str, mode: str) -> list[str]:
    return [h.article.id for h in searcher.search(query, 12, mode).hits]


def test_rrf_sums_reciprocal_ranks():
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "d"]], k=60)
    assert [item for item, _ in fused] == ["c", "a", "b", "d"]
    assert fused[0][1] == pytest.approx(1 / 63 + 1 / 61)
    assert reciprocal_rank_fusion([[], []]) == []


def min_max(scores: dict) -> dict:
    """The documented normalisation, written out: (score - lowest) / (highest - lowest)."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    return {key: (value - low) / (high - low) if high > low else 1.0
            for key, value in scores.items()}


def test_min_max_puts_each_list_on_zero_to_one():
    assert min_max_array(np.array([12.0, 7.0, 2.0])).tolist() == [1.0, 0.5, 0.0]
    assert min_max_array(np.array([0.3])).tolist() == [1.0]
    assert min_max_array(np.zeros(0)).tolist() == []


def test_hybrid_scores_weigh_meaning_words_the_article_and_its_phrases(searcher):
    """The hybrid score of each hit is the documented weighted sum, recomputed here."""
    from indexer.search.fusion import HYBRID, LEAD_ARTICLES

    query = "engine warning grounds the regional plane"
    loaded = searcher._current()
    sims = {p: s for p, s, _, _ in searcher.ranked(query, "semantic")}
    words = dict(zip(*loaded.keywords.top(analyse(query), 1000)))
    articles = dict(zip(*loaded.article_keywords.top(analyse(query), 1000)))
    sem, kw, art = min_max(sims), min_max(words), min_max(articles)
    owners = sorted({int(loaded.owners[p]) for p in set(sims) | set(words)})
    found = dict(zip(*[a.tolist() for a in loaded.phrase_keywords.matches(phrases(query))]))
    said = {owner: found.get(owner, 0.0) for owner in owners}
    best = max(said.values())
    # The opening passage's similarity, scaled over the best articles: here every candidate's.
    assert len(owners) <= LEAD_ARTICLES
    vector = searcher._query_vector(query, loaded.manifest.precision)[0]
    openings = {}
    for pid in set(sims) | set(words):
        owner = int(loaded.owners[pid])
        if owner not in openings:
            article = loaded.passages([pid])[pid][1].id
            first = loaded.article_passages(article)[0][0]
            openings[owner] = float(loaded.vectors([first])[0] @ vector)
    lead = min_max(openings)
    for pid, score, _, _ in searcher.ranked(query, "hybrid")[:10]:
        owner = int(loaded.owners[pid])
        expected = (HYBRID.semantic * sem.get(pid, 0) + HYBRID.passage_keyword * kw.get(pid, 0)
                    + HYBRID.article_keyword * art.get(owner, 0)
                    + HYBRID.phrase * said[owner] / best + HYBRID.lead * lead[owner]
                    ) / HYBRID.total
        assert score == pytest.approx(expected)
    assert articles and words and best > 0 and HYBRID.lead > 0  # all five scores took part
    assert len(set(lead.values())) > 2  # the openings differ in meaning
    # Keyword mode: the same without meaning, by its own weights, over its own candidates.
    from indexer.search.fusion import KEYWORD

    keyword = searcher.ranked(query, "keyword")
    assert {pid for pid, *_ in keyword} == set(words)
    for pid, score, _, bm25 in keyword[:10]:
        owner = int(loaded.owners[pid])
        assert bm25 == pytest.approx(words[pid])
        assert score == pytest.approx((KEYWORD.passage_keyword * kw[pid]
                                       + KEYWORD.article_keyword * art.get(owner, 0)
                                       + KEYWORD.phrase * said[owner] / best) / KEYWORD.total)


def test_phrases_are_the_pairs_of_successive_meaningful_words():
    assert phrases("Lee Jae-yong formally arrested in the probe") == [
        "lee_jae", "jae_yong", "yong_formal", "formal_arrest", "arrest_probe"]
    assert phrases("the") == [] and phrases("Aleppo") == []


def test_the_phrase_index_scores_only_the_articles_that_say_the_words_in_order():
    from indexer.storage.keywords import PhraseIndex

    texts = ["The fire chief praised the police after the blaze.",
             "The police chief praised the fire crews after the blaze.",
             "Chief of police resigns."]
    index = PhraseIndex.build(enumerate(texts))
    ids, scores = index.matches(phrases("police chief"))
    assert ids.tolist() == [1] and scores[0] > 0
    assert [a.tolist() for a in index.matches(phrases("absent words"))] == [[], []]
    assert [a.tolist() for a in index.matches([])] == [[], []]


def test_the_phrase_index_scores_as_bm25s_does_from_a_mapped_file(tmp_path):
    """Its vocabulary of 64-bit keys finds the same columns as bm25s's dict: every query's
    scores equal bm25s's own, also once saved and mapped back; a damaged file is refused."""
    import bm25s

    from indexer.errors import IndexCorruptError
    from indexer.storage.keywords import PhraseIndex

    import json

    texts = [json.loads(line)["text"]
             for line in (DATA / "fusion" / "stories.jsonl").read_text().splitlines()]
    ids = np.arange(len(texts)) * 7 + 2
    PhraseIndex.build(zip(ids.tolist(), texts)).save(tmp_path / "phrases")
    index = PhraseIndex.load(tmp_path / "phrases")
    assert isinstance(index.data.base, np.memmap) and len(index) == len(texts)  # not a copy
    reference = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    reference.index([phrases(t) for t in texts], show_progress=False)
    for query in ("engine warning", "regional airline grounds plane after engine warning",
                  "secondary schools truancy climbs", "nothing like it"):
        words = reference.get_tokens_ids(list(dict.fromkeys(phrases(query))))
        expected = reference.get_scores_from_ids(words) if words else np.zeros(len(texts))
        found, scores = index.matches(phrases(query))
        assert found.tolist() == ids[expected > 0].tolist()
        assert scores.tolist() == expected[expected > 0].tolist()
    assert len(index.matches(phrases("engine warning"))[0]) > 0
    PhraseIndex.build([(1, "Aleppo"), (4, "the")]).save(tmp_path / "single")  # no pairs at all
    single = PhraseIndex.load(tmp_path / "single")
    assert len(single) == 2 and [a.tolist() for a in single.matches(["aleppo_rebel"])] == [[], []]
    (tmp_path / "phrases" / "indptr.npy").write_bytes(b"not numpy")
    with pytest.raises(IndexCorruptError, match="phrase index .* cannot be read"):
        PhraseIndex.load(tmp_path / "phrases")


def test_analysis_stems_words_and_keeps_numbers_whole():
    assert analyse('How many rebels? "ZQ-8812" 15,000 the Café’s') == [
        "rebel", "zq", "8812", "15,000", "cafe", "zq-8812"]
    assert analyse("the of and ???") == []
    assert query_stems("ZQ-8812 rebels rebel") == {"zq", "8812", "zq-8812", "rebel"}


def test_a_code_that_semantic_search_misses_is_found_by_keyword_and_hybrid(searcher):
    # The whole code ranks it above look-alikes that share a part (QZ-8812, ZQ-8821).
    assert ids(searcher, "ZQ-8812", "keyword")[0] == "f1"
    assert ids(searcher, "ZQ-8812", "semantic")[0] != "f1"  # look-alike codes come first
    assert ids(searcher, "ZQ-8812", "hybrid")[0] == "f1"


def test_a_paraphrase_that_keyword_search_misses_is_found_by_semantic_and_hybrid(searcher):
    query = "pupils who skip class"  # the truancy story shares none of these words
    assert "f5" not in ids(searcher, query, "keyword")
    assert ids(searcher, query, "semantic")[0] == "f5"
    assert "f5" in ids(searcher, query, "hybrid")[:2]


def test_hits_say_why_they_matched(searcher):
    result = searcher.search("ZQ-8812", 3, "hybrid")
    top = result.hits[0]
    assert top.keyword_score > 0 and top.similarity is not None and result.mode == "hybrid"
    assert top.passage.text[slice(*top.highlights.terms[0])] == "ZQ"
    keyword_hit = searcher.search("ZQ-8812", 1, "keyword").hits[0]
    assert keyword_hit.similarity is None and keyword_hit.keyword_score > 0
    assert keyword_hit.score == 1.0  # the fused keyword score of the best: 0..1, like hybrid's


def test_a_hit_found_by_its_words_alone_shows_its_similarity(searcher, monkeypatch):
    """With a candidate list of one passage, the code's article reaches hybrid results through
    keyword search only; its cosine is measured for display, and equals semantic search's."""
    import indexer.search.searcher

    cosine = {h.passage_id: h.similarity for h in searcher.search("ZQ-8812", 100, "semantic",
                                                                   group="passage").hits}
    monkeypatch.setattr(indexer.search.searcher, "CANDIDATES", 1)
    searcher._pools.clear()
    try:
        hits = searcher.search("ZQ-8812", 5, "hybrid", group="passage").hits
    finally:
        searcher._pools.clear()
    assert len(hits) == 2 and all(h.similarity is not None for h in hits)
    assert any(h.article.id == "f1" for h in hits)
    for hit in hits:
        assert hit.similarity == pytest.approx(cosine[hit.passage_id], abs=1e-5)


def test_query_syntax_is_not_interpreted(searcher):
    """Quotes, colons, operators and brackets are none: a query means its words, as typed."""
    for query, words in [('"engine warning', "engine warning"), ("title:engine", "title engine"),
                         ("engine* OR (plane", "engine or plane"),
                         ("NEAR(engine plane)", "near engine plane"), ("NOT engine", "not engine")]:
        assert ids(searcher, query, "keyword") == ids(searcher, words, "keyword"), query
        assert ids(searcher, query, "hybrid")  # the model reads the marks; the words still count
    assert "f1" in ids(searcher, "title:engine", "keyword")[:3]
    assert ids(searcher, "NOT AND OR", "keyword") == []  # only stop words: nothing to match
    with pytest.raises(QueryError, match="holds no word"):  # signs alone: nothing to search
        ids(searcher, "_ -- .", "keyword")


def test_unknown_mode_is_refused(searcher):
    with pytest.raises(QueryError, match="mode must be one of hybrid, semantic, keyword"):
        searcher.search("x", 5, "fuzzy")


def test_a_passage_matched_by_meaning_alone_gets_its_closest_sentence_marked(searcher):
    plain = searcher.search("pupils who skip class", 1, "semantic").hits[0]
    assert plain.highlights.sentence is None  # explaining by meaning is asked for, not default
    hit = searcher.search("pupils who skip class", 1, "semantic", explain=True).hits[0]
    assert hit.article.id == "f5" and hit.highlights.terms == ()
    start, end = hit.highlights.sentence
    assert hit.highlights.basis == "meaning"
    assert "Unauthorised absence" in hit.passage.text[start:end]
    assert hit.to_dict()["highlights"]["sentence_by"] == "meaning"
    words = searcher.search("ZQ-8812 engine warning", 1, "hybrid", explain=True).hits[0]
    assert words.highlights.basis == "words"


@pytest.mark.parametrize("text, words, sentence", [
    # the sentence holding the most distinct query words, however often one of them repeats
    ("Rebels held Aleppo. Buses buses buses came. The rebels left Aleppo on buses.",
     ["Rebels", "Aleppo", "Buses", "buses", "buses", "rebels", "Aleppo", "buses"],
     "The rebels left Aleppo on buses."),
    # equal counts: the first such sentence
    ("Rebels in Aleppo. Aleppo's rebels wait. Buses.",
     ["Rebels", "Aleppo", "Aleppo's", "rebels", "Buses"], "Rebels in Aleppo."),
])
def test_highlight_marks_every_query_word_and_the_sentence_with_most_of_them(text, words,
                                                                             sentence):
    from indexer.search.highlight import highlight

    found = highlight(text, query_stems("rebels leave Aleppo by buses"))
    assert [text[start:end] for start, end in found.terms] == words
    assert text[slice(*found.sentence)] == sentence
    assert highlight("Nothing here matches.", query_stems("Aleppo")).sentence is None


def test_keyword_top_is_the_n_best_with_ties_in_document_order():
    """top(n) equals sorting every document's BM25 score (bm25s's own sum), best first, ties by
    document order, and cutting at n: also when the cut falls inside a run of equal scores."""
    from indexer.storage.keywords import KeywordIndex

    texts = ["river flood", "flood warning issued", "river", "flood", "flood", "flood", "dry",
             "flood river flood", "flood", "warning"]
    index = KeywordIndex.build((10 * i + 3, text) for i, text in enumerate(texts))
    for query in (["flood"], ["flood", "river"], ["warn", "flood"], ["river"]):
        scores = index.retriever.get_scores_from_ids(index.retriever.get_tokens_ids(query))
        ranked = sorted((i for i in range(len(texts)) if scores[i] > 0),
                        key=lambda i: (-scores[i], i))
        for n in range(1, len(texts) + 2):
            ids, values = index.top(query, n)
            assert ids.tolist() == [10 * i + 3 for i in ranked[:n]]
            assert values.tolist() == [float(scores[i]) for i in ranked[:n]]
            loose = index.top(query, n, ordered=False)
            assert sorted(zip(*[a.tolist() for a in loose])) == sorted(zip(ids.tolist(),
                                                                          values.tolist()))
            assert loose[0].tolist() == sorted(loose[0].tolist())
    assert index.top(["absent"], 5)[0].tolist() == []
