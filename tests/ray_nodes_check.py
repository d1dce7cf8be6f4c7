"""Run by test_ray.py inside a network namespace of its own (loopback only): a Ray head and a
second node started with `ray start`, a real Milvus server, and `index --ray HEAD --backend
milvus://...` building the archive on both nodes straight into Milvus; then a local build of the
same archive to compare with. Prints what the test compares, as JSON."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import ALEPPO_QUESTION, ROOT, free_port, start_milvus, stop_milvus  # noqa: E402

RAY = str(Path(sys.executable).parent / "ray")
QUESTIONS = [ALEPPO_QUESTION, "storm power cut homes", "why was the bridge closed", "museum",
             "interest rates", "ZQ-8812"]


# A cluster of several nodes authenticates with a token that every node and client is given
# (Ray's token authentication): made here for this cluster alone.
ENV = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}


def ray(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([RAY, *args], capture_output=True, text=True, timeout=180, env=ENV)


def main() -> None:
    archive, work = Path(sys.argv[1]), Path(sys.argv[2])
    port = free_port()
    milvus = start_milvus(work / "milvus", port)
    head = free_port()
    found: dict = {}
    try:
        started = [ray("start", "--head", "--node-ip-address=127.0.0.1", f"--port={head}",
                       "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats"),
                   ray("start", f"--address=127.0.0.1:{head}", "--node-ip-address=127.0.0.1",
                       "--num-cpus=2", "--disable-usage-stats")]
        found["ray_start"] = [s.returncode for s in started]
        found["ray_start_err"] = [s.stderr[-1500:] for s in started]
        address = f"milvus://127.0.0.1:{port}/nodes"
        built = subprocess.run(
            [sys.executable, "-m", "webapp.cli", "index", str(archive), "--ray",
             f"127.0.0.1:{head}", "--actors", "2", "--backend", address, "--index-dir",
             str(work / "no-folder")], cwd=ROOT, capture_output=True, text=True, timeout=900,
            env=ENV)
        found.update(exit=built.returncode, out=built.stdout, err=built.stderr[-4000:])
        found["folder_made"] = (work / "no-folder").exists()
        if built.returncode:
            return
        from indexer import Searcher, build_index

        build_index([archive], work / "local")
        local, remote = Searcher(work / "local"), Searcher(work / "no-folder", backend=address)
        shown = lambda r: [(h.article.id, round(h.score, 4), tuple(c.id for c in h.copies))  # noqa: E731
                           for h in r.hits]
        found["same"] = [shown(local.search(q, 5)) == shown(remote.search(q, 5))
                         and local.search(q, 5).matching == remote.search(q, 5).matching
                         for q in QUESTIONS]
        from indexer.terms import analyse

        stems = sorted({s for q in QUESTIONS for s in analyse(q)})  # the shards' sums, read
        found["idf_same"] = np.allclose(
            [local._current().idf(stems)[s] for s in stems],
            [remote._current().idf(stems)[s] for s in stems], rtol=0, atol=1e-9)
        found["health"] = [{k: s.health()[k] for k in ("articles", "passages", "outlets")}
                           for s in (local, remote)]
        found["sources"] = local.sources() == remote.sources()
    finally:
        ray("stop", "--force")
        stop_milvus(milvus)
        print(json.dumps(found))


if __name__ == "__main__":
    main()
