"""Indexing on a local Ray cluster (Ray Data: files read in tasks, articles chunked and embedded
by 1 or 2 actors) beside the local pipeline, in one run.

Usage: unshare --net sh -c 'ip link set lo up && exec python bench/ray_indexing.py
           [--articles 300] [--rounds 2] [--archive ../shared/data/newsarticles.jsonl]
           [--part-mb 8]'

Builds the same articles into a fresh index folder with each embedder in turn (local, Ray with 1
actor, Ray with 2), ROUNDS times alternating, and prints each build's embedding rate
(passages/s, from build_index's own clock) and whether its vectors equal the local build's. The
Ray cluster is started once, before the clock (its start is printed apart); each build's reading
tasks and actors start within it (the actors loading the model, as a build on a cluster would).
It prints the whole build's time too: with Ray, reading is on the cluster. Last, it reads the
whole archive here and on Ray, in parts of PART_MB (ROUNDS times alternating), each article's
language detected as a Ray task does: the seconds each. Run it in a network
namespace of its own, as above: Ray's servers listen on every address of the machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.search_latency import machine  # noqa: E402
from indexer import build_index  # noqa: E402
from indexer.storage.indexdir import current_build  # noqa: E402
from indexer.building.ray_cluster import RayCluster, stop_ray  # noqa: E402
from indexer.reading.readers import read_archive  # noqa: E402
from indexer.reading.report import ReadReport  # noqa: E402
from indexer.reading.streams import parts  # noqa: E402
from indexer.articles import Article  # noqa: E402
from indexer.analysis.language import detect  # noqa: E402
from indexer.storage.vectors import FaissStore  # noqa: E402

DEFAULT_ARCHIVE = Path(__file__).resolve().parents[2] / "shared" / "data" / "newsarticles.jsonl"


def read_here(paths: list[Path], report: ReadReport) -> Iterator[Article]:
    """read_archive's articles with their language found, the work of reading on Ray."""
    for article in read_archive(paths, report):
        detect(article.title, article.text)
        yield article


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE)
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--part-mb", type=float, default=8.0)
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        sample = Path(tmp) / "sample.jsonl"
        with open(args.archive) as source:
            lines = [line for _, line in zip(range(args.articles), source)]
        sample.write_text("".join(lines))
        started = time.perf_counter()
        ray_one = RayCluster(actors=1)
        print(f"Ray cluster started in {time.perf_counter() - started:.1f} s "
              f"({ray_one.cpus_each} CPUs an actor with 1)")
        clusters = {"local": None, "ray, 1 actor": ray_one, "ray, 2 actors": RayCluster(actors=2)}
        rates: dict[str, list[float]] = {name: [] for name in clusters}
        reference = None
        for round_ in range(args.rounds):
            for name, cluster in clusters.items():
                folder = Path(tmp) / f"{round_}-{name.replace(' ', '').replace(',', '')}"
                result = build_index([sample], folder, cluster=cluster)
                rates[name].append(result.passages_per_second)
                store = FaissStore.load(current_build(folder), result.manifest.dimension)
                vectors = store.vectors(np.arange(len(store)))
                reference = vectors if reference is None else reference
                same = float(np.abs(vectors - reference).max())
                print(f"round {round_ + 1} {name}: {result.passages_per_second:.1f} passages/s "
                      f"({result.manifest.passages} passages; reading {result.read_seconds:.1f} "
                      f"s, whole build {result.manifest.build_seconds:.1f} s), vectors differ "
                      f"by at most {same}", flush=True)
        part_bytes = int(args.part_mb * 1024 * 1024)
        reading = RayCluster(part_bytes=part_bytes)
        count = len(parts(args.archive, part_bytes) or [None])
        for round_ in range(args.rounds):
            for name, read in (("here", read_here), (f"on Ray, {count} parts", reading.read)):
                started = time.perf_counter()
                articles = sum(1 for _ in read([args.archive], ReadReport()))
                print(f"round {round_ + 1} reading {args.archive.name} {name}: "
                      f"{time.perf_counter() - started:.1f} s ({articles} articles)", flush=True)
        stop_ray()
    print(json.dumps({name: round(statistics.median(r), 1) for name, r in rates.items()}))


if __name__ == "__main__":
    main()
