"""Run by test_ray.py inside a network namespace of its own (loopback only, where Ray's servers
can listen nowhere else): index through a local Ray cluster into a real Milvus server and into
a plain local index, then print what the test compares, as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import start_milvus, stop_milvus  # noqa: E402

from helpers import ALEPPO_QUESTION, ROOT, free_port  # noqa: E402


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "webapp.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def _read_in_parts(work_dir: Path) -> tuple:
    """A folder read here and by a Ray cluster in parts: (its big file, what each read, their
    reports, why a cluster of too many actors was refused)."""
    from indexer.building.ray_cluster import RayCluster, stop_ray
    from indexer.errors import IndexerError
    from indexer.reading.readers import read_archive
    from indexer.reading.report import ReadReport

    # A JSON Lines file larger than a part is read by several tasks, as it reads whole.
    big = work_dir / "big" / "wire.jsonl"
    big.parent.mkdir()
    big.write_text("".join(
        (json.dumps({"id": f"w{i}", "title": f"Wire story {i}", "text": f"Fact {i}. " * 30})
         if i % 3 else "{broken line") + ("\r\n" if i % 2 else "\n") for i in range(60)))
    # What listing skips (a link out, a file of no known type) and what reading skips are
    # reported in the order a local build reports them.
    (big.parent / "a.jsonl").write_text('{"id": "a1", "title": "First", "text": "One."}\n{x\n')
    (big.parent / "m.jsonl").symlink_to("/dev/zero")
    (big.parent / "zz.bin").write_bytes(b"\x00")
    local_report, ray_report = ReadReport(), ReadReport()
    local_read = [(a, a.origin) for a in read_archive([big.parent], local_report)]
    ray_read = [(a, a.origin) for a in RayCluster(actors=1, part_bytes=1500).read(
        [big.parent], ray_report)]
    try:  # more actors than the cluster holds: refused (a build waits for every actor)
        RayCluster(actors=99)
        refused = ""
    except IndexerError as exc:
        refused = str(exc)
    stop_ray()  # the builds that follow start clusters of their own
    return big, local_read, ray_read, (local_report, ray_report), refused


def main(archive: str, work: str) -> None:
    from indexer import Searcher
    from indexer.reading.streams import parts
    from indexer.storage.indexdir import current_build
    from indexer.storage.vectors import FaissStore

    work_dir = Path(work)
    port = free_port()
    milvus = start_milvus(work_dir / "milvus", port)
    address = f"milvus://127.0.0.1:{port}/viaray"
    try:
        big, local_read, ray_read, (local_report, ray_report), refused = \
            _read_in_parts(work_dir)
        ray = cli("index", archive, "--index-dir", str(work_dir / "ray"), "--ray", "--actors",
                  "2")
        plain = cli("index", archive, "--index-dir", str(work_dir / "plain"))
        built = (len(FaissStore.load(current_build(work_dir / "ray"), 384)),
                 len(FaissStore.load(current_build(work_dir / "plain"), 384)))
        # An article added to the archive: --update --ray embeds it alone, as a local update,
        # and the index folder's build goes to Milvus (whole: Milvus serves none of it yet).
        (Path(archive) / "late.jsonl").write_text(json.dumps({
            "id": "late-1", "title": "Harbour reopens after the storm", "date": "2024-03-09",
            "text": "The harbour reopened on Saturday, three days after the storm closed "
                    "it. Ferries resumed their crossings and the fishing fleet went out at "
                    "dawn."}) + "\n")
        ray_update = cli("index", archive, "--update", "--index-dir", str(work_dir / "ray"),
                         "--ray", "--actors", "2", "--backend", address)
        plain_update = cli("index", archive, "--update", "--index-dir", str(work_dir / "plain"))
        a = FaissStore.load(current_build(work_dir / "ray"), 384)
        b = FaissStore.load(current_build(work_dir / "plain"), 384)
        ids = np.arange(len(b))
        hit = Searcher(work_dir / "elsewhere", backend=address).search(ALEPPO_QUESTION, 1).hits[0]
        late = Searcher(work_dir / "elsewhere", backend=address).search(
            "When did the ferries resume?", 1).hits[0]

        def read_lines(out: str) -> list[str]:  # what reading found, without its time
            return [line.split(" (")[0] if line.startswith("Read ") else line
                    for line in out.splitlines() if line.startswith(("Read ", "  skipped"))]

        print(json.dumps({
            "ray_exit": ray.returncode, "ray_out": ray.stdout, "ray_err": ray.stderr[-2000:],
            "plain_exit": plain.returncode, "passages": len(b), "ray_passages": len(a),
            "built": built, "ray_read": read_lines(ray.stdout),
            "plain_read": read_lines(plain.stdout),
            "updates": [ray_update.returncode, plain_update.returncode],
            "update_err": ray_update.stderr[-2000:], "update_out": ray_update.stdout,
            "ray_updated": [line for line in ray_update.stdout.splitlines()
                            if line.startswith("Updated:")],
            "plain_updated": [line for line in plain_update.stdout.splitlines()
                              if line.startswith("Updated:")],
            "max_difference": float(np.abs(a.vectors(ids) - b.vectors(ids)).max()),
            "source": hit.article.source, "passage": hit.passage.text,
            "late": late.article.id, "parts": len(parts(big, 1500) or []),
            "parts_equal": ray_read == local_read and len(local_read) == 41,
            "parts_reports": [vars(local_report), vars(ray_report)], "refused": refused},
            default=str))
    finally:
        stop_milvus(milvus)


if __name__ == "__main__":
    main(*sys.argv[1:])
