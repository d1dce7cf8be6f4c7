"""Queries through ONNX Runtime: the same vectors as torch, exported once, and never a failure."""

from __future__ import annotations

import numpy as np
import pytest

from indexer import Embedder
from indexer.onnx_query import OnnxQueryEncoder, load_query_encoder

QUERIES = ["why did the rebels leave Aleppo", "ZQ-8812", "Économie : 15 000 € ?", "",
           "naïve café 北京 🙂", "word " * 400]


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWS_SEARCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_onnx_queries_equal_torch_and_the_export_is_reused(embedder, cache):
    encoder = load_query_encoder(embedder.model, embedder.path, embedder.max_tokens)
    assert isinstance(encoder, OnnxQueryEncoder)
    (graph,) = cache.glob("onnx/*/model.onnx")
    for query in QUERIES:
        torch_vector = embedder.encode([query])
        assert np.abs(encoder.encode(query) - torch_vector).max() < 1e-5, query
    stamp = graph.stat().st_mtime_ns
    assert load_query_encoder(embedder.model, embedder.path, embedder.max_tokens) is not None
    assert graph.stat().st_mtime_ns == stamp  # loaded from the cache, not exported again


def test_a_damaged_export_is_made_again(embedder, cache):
    load_query_encoder(embedder.model, embedder.path, embedder.max_tokens)
    (graph,) = cache.glob("onnx/*/model.onnx")
    graph.write_bytes(graph.read_bytes()[:1000])  # truncated, as by a full disk
    encoder = load_query_encoder(embedder.model, embedder.path, embedder.max_tokens)
    assert encoder is not None and graph.stat().st_size > 1_000_000


def test_queries_fall_back_to_torch_when_onnx_cannot_be_used(embedder, cache, monkeypatch,
                                                             caplog):
    monkeypatch.setenv("NEWS_SEARCH_ONNX", "0")
    assert load_query_encoder(embedder.model, embedder.path, embedder.max_tokens) is None
    monkeypatch.delenv("NEWS_SEARCH_ONNX")
    cache.parent.joinpath("cache").write_text("a file where the cache folder should be")
    assert load_query_encoder(embedder.model, embedder.path, embedder.max_tokens) is None
    assert "queries are embedded with torch" in caplog.text
    fresh = Embedder()
    assert fresh.encode_query("harbour bridge").shape == (1, fresh.dimension)
