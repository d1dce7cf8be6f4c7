"""Shared fixtures: the real packaged model loaded once, and real indexes built from our own data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from indexer import Embedder, Searcher, build_index

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
SEEDS = ROOT / "seeds"
ARCHIVE = DATA / "archive"
ALEPPO_QUESTION = "how many rebels were in east Aleppo before the assault?"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real default model, from its PyPI package, loaded once for the whole run."""
    return Embedder()


@pytest.fixture(scope="session")
def seeds_index(tmp_path_factory, embedder) -> Path:
    """An index of seeds/, built once; tests must not write to it."""
    folder = tmp_path_factory.mktemp("seeds-index")
    build_index([SEEDS], folder, embedder=embedder)
    return folder


@pytest.fixture(scope="session")
def archive_index(tmp_path_factory, embedder) -> Path:
    """An index of seeds/ and tests/data/archive, built once; tests must not write to it."""
    folder = tmp_path_factory.mktemp("archive-index")
    build_index([SEEDS, ARCHIVE], folder, embedder=embedder)
    return folder


@pytest.fixture(scope="session")
def archive_searcher(archive_index, embedder) -> Searcher:
    return Searcher(archive_index, embedder=embedder)


@pytest.fixture()
def writable_index(tmp_path, archive_index) -> Path:
    """A private copy of the archive index, for tests that rebuild or damage it."""
    copy = tmp_path / "index"
    shutil.copytree(archive_index, copy)
    return copy
