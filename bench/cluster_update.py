"""An update of a build on a Ray cluster in Milvus, made on the cluster, against building it again:
what each writes and how long it takes.

Usage: unshare --net sh -c 'ip link set lo up && exec python bench/cluster_update.py
           [--archive ../shared/data/newsarticles.jsonl] [--articles 600] [--added 20]'

Starts a Ray head with `ray start` (2 CPUs, token authentication, loopback) and a milvus-lite
server; builds the archive's first ARTICLES articles on the cluster into Milvus with the CLI,
then adds the next ADDED articles, changes one and removes one, and runs `index --update` on the
cluster, then builds the changed archive again into a second name. Prints each run's seconds,
what it wrote (its own report) and the peak memory of the process running `index`. Run it in a
network namespace of its own, as above: Ray's servers listen on every address of the machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bench.cluster_driver import ENV, RAY, peak_of  # noqa: E402
from bench.search_latency import machine  # noqa: E402
from helpers import free_port, start_milvus, stop_milvus  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", default="../shared/data/newsarticles.jsonl")
    parser.add_argument("--articles", type=int, default=600)
    parser.add_argument("--added", type=int, default=20)
    args = parser.parse_args()
    print(machine())
    work = Path(tempfile.mkdtemp(prefix="cluster-update-"))
    with open(args.archive) as lines:
        rows = [json.loads(line) for _, line in zip(range(args.articles + args.added), lines)]
    archive = work / "archive.jsonl"
    archive.write_text("".join(json.dumps(r) + "\n" for r in rows[:args.articles]))
    port, head = free_port(), free_port()
    milvus = start_milvus(work / "milvus", port)
    try:
        subprocess.run([RAY, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={head}",
                        "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats"],
                       check=True, capture_output=True, env=ENV)

        def index(name: str, *more: str) -> None:
            peak, seconds, out = peak_of(
                [sys.executable, "-m", "webapp.cli", "index", str(archive), "--ray",
                 f"127.0.0.1:{head}", "--backend", f"milvus://127.0.0.1:{port}/{name}",
                 "--index-dir", str(work / "none"), *more])
            said = [line for line in out.splitlines() if line.startswith(("Wrote", "Updated"))]
            print(f"{' '.join(('index', *more)) or 'index'} ({name}): {seconds:.0f} s, driver peak "
                  f"{peak / 1024:.0f} MB; {said[-1] if said else out[-300:]}")

        index("news")
        changed = rows[:args.articles + args.added]
        changed[1] = {**changed[1], "text": changed[1]["text"] + " A correction was added."}
        del changed[2]
        archive.write_text("".join(json.dumps(r) + "\n" for r in changed))
        index("news", "--update")
        index("again")
    finally:
        subprocess.run([RAY, "stop", "--force"], capture_output=True, env=ENV)
        stop_milvus(milvus)
        shutil.rmtree(work, ignore_errors=True)  # its archive, index and Milvus data


if __name__ == "__main__":
    main()
