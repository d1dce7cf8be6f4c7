"""Run by test_ray.py inside a network namespace of its own (loopback only): a Ray head and a
second node started with `ray start`, a real Milvus server (milvus-lite 2.5.1, Milvus' C++
engine; ray_check.py has the Python one), and `index --ray HEAD --backend
milvus://...` building the archive on both nodes straight into Milvus; then a local build of the
same archive to compare with; then the archive changed and updated on the cluster (`--update`),
compared with a local build of it. Prints what the test compares, as JSON."""

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
    milvus = start_milvus(work / "milvus", port, "cpp")
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
        found.update(_compared(local, remote, "hybrid"))
        found["sources"] = local.sources() == remote.sources()
        _update(archive, work, head, address, found)
    finally:
        found["milvus_exit"] = milvus.poll()
        ray("stop", "--force")
        stop_milvus(milvus)
        print(json.dumps(found))


def _compared(local, remote, mode: str) -> dict:  # noqa: ANN001 - two Searchers
    """What the test compares of a local build and Milvus: the results in mode (ids, scores,
    copies); hybrid, the count of stories that match; the terms' IDF; the counts."""
    from indexer.terms import analyse

    shown = lambda r: [(h.article.id, round(h.score, 4), tuple(c.id for c in h.copies))  # noqa: E731
                       for h in r.hits]
    stems = sorted({s for q in QUESTIONS for s in analyse(q)})
    return {"same": [shown(local.search(q, 5, mode)) == shown(remote.search(q, 5, mode))
                     and local.search(q, 5).matching == remote.search(q, 5).matching
                     for q in QUESTIONS],
            "idf_same": np.allclose([local._current().idf(stems)[s] for s in stems],
                                    [remote._current().idf(stems)[s] for s in stems],
                                    rtol=0, atol=1e-9),
            "health": [{k: s.health()[k] for k in ("articles", "passages", "outlets")}
                       for s in (local, remote)],
            "storm": [[c.id for h in s.search("storm power cut homes", 5).hits
                       if h.article.id == "storm-agency" for c in h.copies]
                      for s in (local, remote)]}


def _update(archive: Path, work: Path, head: int, address: str, found: dict) -> None:
    """The archive changed (3 articles removed, 1 changed, 5 added and a new copy of the storm
    story), then updated on the cluster, and compared with a local build of it."""
    council = [{"id": f"council-{i}", "title": f"Council report {i} on the harbour works",
                "text": f"The council met on day {i} to discuss the harbour works. " * 5}
               for i in range(3, 95)]
    council[0]["text"] = "The bridge was closed after engineers found cracks in its piers."
    (archive / "council.jsonl").write_text("".join(json.dumps(a) + "\n" for a in council))
    storm = json.loads((archive / "syndicated" / "storm.jsonl").read_text().splitlines()[0])
    (archive / "late.jsonl").write_text(json.dumps(
        {**storm, "id": "storm-late", "source": "Late Wire"}) + "\n")
    updated = subprocess.run(
        [sys.executable, "-m", "webapp.cli", "index", str(archive), "--ray", f"127.0.0.1:{head}",
         "--actors", "2", "--backend", address, "--update", "--index-dir",
         str(work / "no-folder")], cwd=ROOT, capture_output=True, text=True, timeout=900,
        env=ENV)
    found.update(update_exit=updated.returncode, update_out=updated.stdout,
                 update_err=updated.stderr[-4000:])
    found["folder_made"] = found["folder_made"] or (work / "no-folder").exists()
    if updated.returncode:
        return
    from indexer import Searcher, build_index

    build_index([archive], work / "local-updated")
    found["updated"] = _compared(Searcher(work / "local-updated"),
                                 Searcher(work / "no-folder", backend=address), "semantic")


if __name__ == "__main__":
    main()
