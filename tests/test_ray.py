"""Indexing on a real local Ray cluster (a pool of embedder actors) into a real
Milvus server: the vectors equal a local build's, and the index answers through Milvus. Ray's
servers listen on every address of the machine, so the cluster runs in a network namespace of
its own, where there is only loopback (unshare, as root)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ARCHIVE, DATA, ROOT, SEEDS, milvus_cpp

# CI sets NEWS_SEARCH_REQUIRE_NETNS=1 where it found that it can make a network namespace.
REQUIRED = bool(os.environ.get("NEWS_SEARCH_REQUIRE_NETNS"))


def isolated() -> bool:
    """Whether this process may run a command in a network namespace of its own."""
    return shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "--net", "true"], capture_output=True).returncode == 0


def isolated_archive(tmp_path) -> Path:
    """The fixtures' archive and the seeds in tmp_path, once a network namespace can be made
    (else the test is skipped, or failed where CI requires one)."""
    if not isolated():
        message = "cannot make a network namespace here (unshare --net needs root)"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    archive = tmp_path / "archive"
    shutil.copytree(ARCHIVE, archive / "archive")
    shutil.copytree(SEEDS, archive / "seeds")
    return archive


def run_isolated(script: str, archive: Path, tmp_path: Path, timeout: int) -> dict:
    """What tests/SCRIPT prints as JSON, run in a network namespace of its own (loopback only)."""
    done = subprocess.run(
        ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', sys.executable,
         str(ROOT / "tests" / script), str(archive), str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_ray_indexing_equals_a_local_build_and_serves_from_milvus(tmp_path):
    found = run_isolated("ray_check.py", isolated_archive(tmp_path), tmp_path, 900)
    assert found["ray_exit"] == 0 and found["plain_exit"] == 0, found["ray_err"]
    assert "chunking and embedding with 2 actors on Ray" in found["ray_err"]
    # Files read in Ray tasks report what they skipped, and why, as a local build does.
    assert found["ray_read"] == found["plain_read"] and len(found["plain_read"]) == 3
    assert "now the index served as milvus://127.0.0.1:" in found["update_out"]
    assert found["built"][0] == found["built"][1] > 10
    assert found["updates"] == [0, 0], found["update_err"]
    assert found["ray_updated"] == found["plain_updated"] == [
        "Updated: 1 article added, 0 changed (re-embedded), 0 removed; "
        f"{found['passages']} passages in all"]
    assert found["ray_passages"] == found["passages"] == found["built"][1] + 1
    assert found["max_difference"] == 0.0  # each passage embedded alone, as a local build does
    assert found["source"] == "AFP" and "15,000" in found["passage"]
    assert found["late"] == "late-1"  # the update reached Milvus
    assert found["parts"] > 3 and found["parts_equal"]  # a large file read in parts, by tasks
    assert found["parts_reports"][0] == found["parts_reports"][1]
    assert re.search(r"--actors 99: the Ray cluster has \d+ CPUs and 0 GPUs, room for \d+ "
                     r"actors .*give fewer", found["refused"])


def test_two_ray_nodes_build_straight_into_milvus(tmp_path):
    """A head and a second node started with `ray start`: the build reads, embeds and writes on
    both, the machine running `index` makes no index folder, and Milvus answers as a local
    build of the same archive does (syndicated copies, counts, outlets); an update on the
    cluster writes what changed and answers as a local build of the changed archive."""
    archive = isolated_archive(tmp_path)
    shutil.copytree(DATA / "syndicated", archive / "syndicated")
    (archive / "again.jsonl").write_text('{"id": "csv-1", "title": "A second csv-1", '
                                         '"text": "Read after the first: skipped."}\n')
    # Enough articles for several batches: each of the two actors (one a node) writes some.
    (archive / "council.jsonl").write_text("".join(json.dumps(
        {"id": f"council-{i}", "title": f"Council report {i} on the harbour works",
         "text": f"The council met on day {i} to discuss the harbour works. " * 5})
        + "\n" for i in range(90)))
    milvus_cpp()  # its server fetched here: the test's network namespace reaches no index
    found = run_isolated("ray_nodes_check.py", archive, tmp_path, 1200)
    assert found["ray_start"] == [0, 0], found["ray_start_err"]
    assert found["exit"] == 0, found["err"]
    assert "from 2 Ray nodes" in found["out"] and "now the index served as milvus://" in \
        found["out"]
    assert "skipped" in found["out"] and "duplicate article id 'csv-1'" in found["out"]
    assert not found["folder_made"]
    assert found["same"] == [True] * 6
    assert found["idf_same"]  # the terms' counts summed on both nodes as a local build counts
    assert found["health"][0] == found["health"][1] and found["sources"]
    # The archive changed, then updated on the cluster: only what differs is written, and
    # Milvus answers as a local build of the changed archive does (by meaning: milvus-lite
    # weighs BM25 within each stored segment), the new copy shown with its story.
    assert found["update_exit"] == 0, found["update_err"]
    assert "6 articles added, 1 changed (re-embedded), 3 removed" in found["update_out"], \
        found["update_out"]
    assert "written from" in found["update_out"] and not found["folder_made"]
    updated = found["updated"]
    assert updated["same"] == [True] * 6 and updated["idf_same"]
    assert updated["health"][0] == updated["health"][1]
    assert updated["storm"][0] == updated["storm"][1] and "storm-late" in updated["storm"][1]
    assert found["milvus_exit"] is None  # Milvus served throughout


def test_a_failure_on_the_cluster_is_one_clear_error():
    exceptions = pytest.importorskip("ray.exceptions")
    from indexer.errors import IndexerError
    from indexer.building.ray_cluster import _rows

    class Dataset:  # what Ray Data's iter_rows does when a node is lost midway
        def iter_rows(self):
            yield {"block": b"first"}
            raise exceptions.RaySystemError("the node running an actor died")

    rows = _rows(Dataset(), "embedding")
    assert next(rows) == {"block": b"first"}
    with pytest.raises(IndexerError, match=r"failed while embedding \(.*node running an actor "
                                           r"died\): nothing was changed.*ray status"):
        next(rows)


def test_a_local_start_that_times_out_is_tried_once_more():
    from indexer.errors import IndexerError
    from indexer.building.ray_cluster import LOCAL, _start

    class Ray:  # ray.init as a busy machine can answer: a timeout, then a start
        def __init__(self, failures: int):
            self.failures, self.calls, self.shutdowns = failures, 0, 0

        def is_initialized(self) -> bool:
            return False

        def init(self, **options) -> None:
            self.calls += 1
            if self.calls <= self.failures:
                raise Exception("The current node timed out during startup.")

        def shutdown(self) -> None:
            self.shutdowns += 1

    once = Ray(failures=1)
    _start(once, LOCAL)
    assert (once.calls, once.shutdowns) == (2, 1)
    with pytest.raises(IndexerError, match="timed out during startup.*ray start --head"):
        _start(Ray(failures=2), LOCAL)
    remote = Ray(failures=1)  # a cluster given by address is not started here: not retried
    with pytest.raises(IndexerError, match="cannot join the Ray cluster at head:6379"):
        _start(remote, "head:6379")
    assert remote.calls == 1
