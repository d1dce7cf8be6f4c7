"""Shared fixtures: the real packaged model loaded once, and real indexes of our own data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers import ARCHIVE, SEEDS, WordsEmbedder, built, copy_archive
from indexer import Embedder, Searcher


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each test's call report on the item, for fixtures that act on failure."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call = report


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real default model, from its PyPI package, loaded once for the whole run."""
    return Embedder()


@pytest.fixture(scope="session")
def words() -> WordsEmbedder:
    """The fast layer's stand-in for the model (helpers.WordsEmbedder): texts sharing words are
    near; for tests of logic, not of what meaning finds."""
    return WordsEmbedder()


@pytest.fixture(scope="session")
def words_index(tmp_path_factory, words) -> Path:
    """seeds/ and tests/data/archive indexed with the stand-in, built once in a second or two;
    tests must not write to it."""
    return built(tmp_path_factory, words, "words-index", SEEDS, ARCHIVE)


@pytest.fixture(scope="session")
def words_searcher(words_index, words) -> Searcher:
    return Searcher(words_index, embedder=words)


@pytest.fixture(scope="session")
def seeds_index(tmp_path_factory, embedder) -> Path:
    """An index of seeds/, built once; tests must not write to it."""
    return built(tmp_path_factory, embedder, "seeds-index", SEEDS)


@pytest.fixture(scope="session")
def archive_index(tmp_path_factory, embedder) -> Path:
    """An index of seeds/ and tests/data/archive, built once; tests must not write to it."""
    return built(tmp_path_factory, embedder, "archive-index", SEEDS, ARCHIVE)


@pytest.fixture(scope="session")
def archive_searcher(archive_index, embedder) -> Searcher:
    return Searcher(archive_index, embedder=embedder)


@pytest.fixture()
def archive(tmp_path) -> Path:
    """A private copy of the archive and the seeds (copy_archive)."""
    return copy_archive(tmp_path / "archive")


@pytest.fixture()
def writable_index(tmp_path, archive_index) -> Path:
    """A private copy of the archive index, for tests that rebuild or damage it."""
    copy = tmp_path / "index"
    shutil.copytree(archive_index, copy)
    return copy


# Modules whose every test loads a model, a cluster or a Milvus server of its own.
HEAVY_MODULES = ("test_ray", "test_milvus", "test_models", "test_onnx_query")


def pytest_collection_modifyitems(items):
    """Mark the tests that load the real model (through the embedder fixture, an index built
    with it, or by themselves) or start a cluster: `pytest -m "not model"` runs the fast layer,
    the logic that needs none; `pytest` runs everything."""
    for item in items:
        if "embedder" in getattr(item, "fixturenames", ()) \
                or item.module.__name__ in HEAVY_MODULES or item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.model)
