"""The memory of the machine that runs `index --ray --backend milvus://`, against the size of
the archive: the build goes from the cluster straight into Milvus, so it should not grow.

Usage: unshare --net sh -c 'ip link set lo up && exec python bench/cluster_driver.py
           [--archive ../shared/data/newsarticles.jsonl] [--small 1000]'

Starts a Ray head with `ray start` (2 CPUs, token authentication, loopback) and a milvus-lite
server, then builds the archive's first SMALL articles and then the whole archive, each with the
CLI in a process of its own, into Milvus: prints each build's articles, passages, seconds and
the CLI process's peak resident memory (VmHWM, read from /proc while it runs; Ray's and
Milvus' processes are apart), and the ratio of the two peaks. Run it in a network namespace of
its own, as above: Ray's servers listen on every address of the machine.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from bench.search_latency import machine  # noqa: E402
from helpers import free_port, start_milvus, stop_milvus  # noqa: E402

ENV = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
RAY = str(Path(sys.executable).parent / "ray")


def peak_of(command: list[str]) -> tuple[int, float, str]:
    """Run command; (its peak resident kB, seconds, its standard output)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.DEVNULL, env=ENV)
        peak = 0
        while proc.poll() is None:
            try:
                status = Path(f"/proc/{proc.pid}/status").read_text()
                peak = max(peak, int(re.search(r"VmHWM:\s+(\d+)", status)[1]))
            except (OSError, TypeError):
                pass
            time.sleep(0.2)
        out.seek(0)
        return peak, time.perf_counter() - started, out.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", default="../shared/data/newsarticles.jsonl")
    parser.add_argument("--small", type=int, default=1000)
    args = parser.parse_args()
    print(machine())
    work = Path(tempfile.mkdtemp(prefix="cluster-driver-"))
    whole = Path(args.archive).resolve()
    small = work / "small.jsonl"
    with open(whole) as lines:
        small.write_text("".join(line for _, line in zip(range(args.small), lines)))
    port, head = free_port(), free_port()
    milvus = start_milvus(work / "milvus", port)
    try:
        subprocess.run([RAY, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={head}",
                        "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats"],
                       check=True, capture_output=True, env=ENV)
        peaks = []
        for name, archive in (("small", small), ("whole", whole)):
            peak, seconds, out = peak_of(
                [sys.executable, "-m", "webapp.cli", "index", str(archive), "--ray",
                 f"127.0.0.1:{head}", "--backend", f"milvus://127.0.0.1:{port}/{name}",
                 "--index-dir", str(work / "none")])
            read = re.search(r"Read .*?: (\d+) articles?", out)
            wrote = re.search(r"Wrote (\d+) passages?", out)
            print(f"{name}: {read[1] if read else '?'} articles, {wrote[1] if wrote else '?'} "
                  f"passages, {seconds:.0f} s, driver peak {peak / 1024:.0f} MB")
            peaks.append(peak)
        print(f"whole / small driver peak: {peaks[1] / peaks[0]:.3f}")
    finally:
        subprocess.run([RAY, "stop", "--force"], capture_output=True, env=ENV)
        stop_milvus(milvus)
        shutil.rmtree(work, ignore_errors=True)  # its archive, index and Milvus data


if __name__ == "__main__":
    main()
