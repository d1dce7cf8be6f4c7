"""The vector store: exact and approximate (IVF, 8-bit) FAISS indexes, chosen by size."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from helpers import ARCHIVE
from indexer import Searcher, build_index, update_index
from indexer.storage import int8_scan
from indexer.storage.indexdir import current_build
from indexer.storage.vectors import (FLAT, INT8_NAME, IVF_SQ8, NPROBE, FaissStore, cells_for,
                                     choose_kind, nprobe_for)

DIM = 32


def clustered(n: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around 50 centres, as embeddings of an archive's topics are."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(50, DIM))
    x = centres[rng.integers(0, 50, n)] + 0.6 * rng.normal(size=(n, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def stores():
    vectors = clustered(6000)
    ids = np.arange(6000, dtype=np.int64) * 3 + 7  # ids with gaps, as after updates
    flat = FaissStore(DIM)
    flat.add(vectors, ids)
    return flat, flat.converted(IVF_SQ8, nprobe=16), vectors, ids


def test_the_kind_is_chosen_by_size():
    assert choose_kind("auto", 49_999) == FLAT and choose_kind("auto", 50_000) == IVF_SQ8
    assert choose_kind("flat", 10**7) == FLAT and choose_kind("ivf-sq8", 10) == IVF_SQ8
    with pytest.raises(ValueError, match="store must be auto or one of flat, ivf-sq8"):
        choose_kind("hnsw", 10)
    assert cells_for(1_000_000) == 8192 and cells_for(95_174) == 2048
    assert cells_for(50_000) == 1282 and cells_for(6000) == 153 and cells_for(20) == 1


def test_more_cells_are_searched_where_there_are_more_than_2048():
    """256 of up to 2,048 cells (the union's 95,174 passages), then with the square root of the
    cells: a million passages' 8,192 get 512."""
    assert [nprobe_for(cells_for(n)) for n in (6000, 95_174, 300_000, 1_000_000, 4_000_000)] \
        == [153, 256, 384, 512, 768]
    assert nprobe_for(1) == 1 and nprobe_for(2049) == 320


def test_the_default_searches_as_many_cells_as_there_are_up_to_nprobe(stores):
    flat, _, _, _ = stores
    assert (
        NPROBE > 153 and flat.converted(IVF_SQ8).description == "faiss-ivf153-sq8-uniform-nprobe153"
    )


def test_ivf_finds_what_exact_search_finds(stores):
    flat, ivf, _, _ = stores
    assert (flat.kind, ivf.kind, len(ivf)) == (FLAT, IVF_SQ8, 6000)
    assert ivf.description == "faiss-ivf153-sq8-uniform-nprobe16"
    queries = clustered(200, seed=1)
    _, exact = flat.search(queries, 10)
    _, approx = ivf.search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, approx)])
    assert recall >= 0.9
    ivf.index.nprobe = 153  # every cell: only the 8-bit rounding differs from exact
    _, everything = ivf.search(queries, 10)
    ivf.index.nprobe = 16
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, everything)]) >= 0.97


def test_ivf_keeps_ids_vectors_and_removals(stores, tmp_path):
    _, ivf, vectors, ids = stores
    assert sorted(ivf.ids()) == sorted(ids)
    back = ivf.vectors(ids[:50])
    assert np.min(np.sum(back * vectors[:50], axis=1)) > 0.99  # one byte a dimension
    ivf.save(tmp_path)
    loaded = FaissStore.load(tmp_path, DIM)
    assert loaded.description == ivf.description
    loaded.remove(ids[:10])
    assert len(loaded) == 5990
    _, found = loaded.search(vectors[:10], 5)
    assert not set(found.ravel()) & set(ids[:10])


def test_a_narrow_filter_on_ivf_searches_exactly_among_the_allowed(stores):
    flat, ivf, vectors, ids = stores
    allowed = ids[::97]  # 62 passages scattered over many cells
    query = clustered(1, seed=2)
    exact_scores, exact = flat.search(query, 10, allowed)
    scores, found = ivf.search(query, 10, allowed)
    assert set(found[0]) <= set(allowed) and list(found[0]) == list(exact[0])
    assert np.allclose(scores, exact_scores, atol=0.02)
    _, few = ivf.search(query, 100, allowed)
    assert (few[0] >= 0).sum() == len(allowed)


def test_an_index_built_approximate_says_so_and_stays_so_on_update(tmp_path, embedder):
    archive = tmp_path / "archive"
    import shutil
    shutil.copytree(ARCHIVE, archive)
    build_index([archive], tmp_path / "ix", embedder=embedder, store_kind="ivf-sq8", nprobe=1)
    manifest = json.loads((current_build(tmp_path / "ix") / "manifest.json").read_text())
    assert (
        manifest["store"] == "faiss-ivf1-sq8-uniform-nprobe1"
        and manifest["store_choice"] == "ivf-sq8"
    )
    searcher = Searcher(tmp_path / "ix", embedder=embedder)
    assert "harbour-bridge" in searcher.search("why was the bridge closed", 1).hits[0].article.id
    (archive / "ferry.txt").write_text("Ferry strike ends\n\nThe ferry crews ended their strike "
                                       "after the port agreed to hire twelve more deckhands.\n")
    result = update_index([archive], tmp_path / "ix", embedder=embedder)
    assert result.manifest.store == "faiss-ivf1-sq8-uniform-nprobe1"
    hit = Searcher(tmp_path / "ix", embedder=embedder).search("deckhands strike", 1).hits[0]
    assert hit.article.id.startswith("ferry")


def test_an_ivf_of_the_earlier_kind_loads_searches_and_stays_so(stores, tmp_path):
    """Indexes built by earlier versions hold one scale a dimension (QT_8bit): they are
    searched as they are, and an update keeps their kind."""
    import faiss

    flat, _, vectors, ids = stores
    index = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(DIM), DIM, 153,
                                          faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
    index.train(vectors)
    index.set_direct_map_type(faiss.DirectMap.Hashtable)
    index.nprobe = 153
    FaissStore(DIM, index).add(vectors, ids)
    FaissStore(DIM, index).save(tmp_path)
    old = FaissStore.load(tmp_path, DIM, mapped=True)
    assert (old.kind, old.description) == (IVF_SQ8, "faiss-ivf153-sq8-nprobe153")
    queries = clustered(100, seed=3)
    _, exact = flat.search(queries, 10)
    _, found = old.search(queries, 10)
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, found)]) >= 0.97
    updated = FaissStore.load(tmp_path, DIM)
    updated.remove(ids[:5])
    assert updated.converted(IVF_SQ8).description == "faiss-ivf153-sq8-nprobe153"


@pytest.mark.parametrize("which", [0, 1])  # flat, ivf-sq8
def test_a_mapped_store_searches_and_reads_as_a_loaded_one(stores, tmp_path, which):
    """What a server searches (the file mapped into memory, shared by its worker processes)
    answers exactly as the store read into memory."""
    store, vectors, ids = stores[which], stores[2], stores[3]
    store.save(tmp_path)
    loaded = FaissStore.load(tmp_path, DIM)
    mapped = FaissStore.load(tmp_path, DIM, mapped=True)
    queries = clustered(20, seed=5)
    for allowed in (None, ids[::7], ids[:40]):
        got, want = mapped.search(queries, 50, allowed), loaded.search(queries, 50, allowed)
        assert all(np.array_equal(a, b) for a, b in zip(got, want))
    assert np.array_equal(mapped.vectors(ids[:100]), loaded.vectors(ids[:100]))
    assert len(mapped) == len(loaded) == len(vectors)


def test_a_served_flat_store_scans_bytes_and_answers_as_the_float_scan(stores, tmp_path):
    """A flat store opened for searching scans an 8-bit copy of its vectors and scores its best
    again from the floats: the 1,000 deepest lists the fusion reads are the float scan's, ids
    and scores alike; a small store is scanned as it is."""
    flat, vectors, ids = stores[0], stores[2], stores[3]
    flat.save(tmp_path)
    mapped = FaissStore.load(tmp_path, DIM, mapped=True)
    assert mapped._scan is not None and FaissStore.load(tmp_path, DIM)._scan is None
    assert str(tmp_path / INT8_NAME) in Path("/proc/self/maps").read_text()  # shared, mapped
    queries = clustered(30, seed=11)
    for k in (1, 10, 1000):
        (got, got_ids), (want, want_ids) = mapped.search(queries, k), flat.search(queries, k)
        assert got.shape == want.shape == (30, k) and np.array_equal(got, want)
        for row in range(30):  # equal scores come by id here, in FAISS's heap in no set order
            assert sorted(zip(-got[row], got_ids[row])) == sorted(zip(-want[row], want_ids[row]))
            assert np.all(np.diff(got_ids[row])[np.diff(got[row]) == 0] > 0)
    # A build saved before the copy was, or with its copy damaged: the copy is made anew.
    (tmp_path / INT8_NAME).write_bytes((tmp_path / INT8_NAME).read_bytes()[:5000])
    again = FaissStore.load(tmp_path, DIM, mapped=True)
    assert again._scan is not None and np.array_equal(again.search(queries, 10)[0],
                                                      flat.search(queries, 10)[0])
    small = FaissStore(DIM)
    small.add(vectors[:500], ids[:500])
    (tmp_path / "small").mkdir()
    small.save(tmp_path / "small")
    assert FaissStore.load(tmp_path / "small", DIM, mapped=True)._scan is None
    assert not (tmp_path / "small" / INT8_NAME).exists()


@pytest.mark.parametrize("margin", [int8_scan.SAMPLE_MARGIN, 0.2])
def test_the_bytes_scan_keeps_those_above_a_sampled_bar_and_finds_the_heaps_best(
        stores, tmp_path, monkeypatch, margin):
    """Where the store holds many times the candidates, the 8-bit scan keeps those above a bar
    set on a sample instead of a heap: the same best as the heap's, ids and scores; where too
    few pass the bar (most searches, with a margin of 0.2 and a bar from the sample's best)
    the heap's scan answers."""
    flat = stores[0]
    flat.save(tmp_path)
    mapped = FaissStore.load(tmp_path, DIM, mapped=True)
    queries = clustered(30, seed=13)
    monkeypatch.setattr(int8_scan, "RANGED_FROM", 10**9)
    want = [mapped.search(queries, k) for k in (10, 200)]  # the heap's alone
    monkeypatch.setattr(int8_scan, "RANGED_FROM", 8)
    monkeypatch.setattr(int8_scan, "SAMPLE_MARGIN", margin)
    if margin < 1:
        monkeypatch.setattr(int8_scan, "SAMPLE_LEAST", 1)
    above, heap = [], []
    monkeypatch.setattr(mapped._scan, "_above", _spy(mapped._scan._above, above))
    monkeypatch.setattr(mapped._scan.codes, "search", _spy(mapped._scan.codes.search, heap))
    for k, (want_scores, want_ids) in zip((10, 200), want):
        got_scores, got_ids = mapped.search(queries, k)
        assert np.array_equal(got_scores, want_scores) and np.array_equal(got_ids, want_ids)
    # The bar is set on a sample: now and then too few pass it (2 of these 60 searches).
    assert len(above) == 60 and (len(heap) <= 6 if margin > 1 else len(heap) >= 30)


def test_the_bytes_scan_among_equal_vectors_keeps_the_first(tmp_path, monkeypatch):
    """A store of a few vectors each repeated thousands of times: every one of a repeated
    vector passes the bar; the best k are its first places, in one partition (no heap)."""
    rng = np.random.default_rng(3)
    distinct_vectors = rng.normal(size=(3, DIM)).astype(np.float32)
    distinct_vectors /= np.linalg.norm(distinct_vectors, axis=1, keepdims=True)
    vectors = np.repeat(distinct_vectors, 2000, axis=0)
    store = FaissStore(DIM)
    store.add(vectors, np.arange(len(vectors), dtype=np.int64) * 2)
    store.save(tmp_path)
    mapped = FaissStore.load(tmp_path, DIM, mapped=True)
    heap = []
    monkeypatch.setattr(mapped._scan.codes, "search", _spy(mapped._scan.codes.search, heap))
    scores, ids = mapped.search(distinct_vectors[1:2], 100)
    assert not heap and np.array_equal(ids[0], np.arange(2000, 2100) * 2)
    assert np.allclose(scores, 1.0, atol=1e-5)


def _spy(function, calls: list):
    """function, with each call's result appended to calls."""
    def spied(*args, **kwargs):
        calls.append(function(*args, **kwargs))
        return calls[-1]
    return spied
