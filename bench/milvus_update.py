"""An update through Milvus (a milvus-lite server on a loopback port) against the copy it
replaces: what it writes and how long it takes.

Usage: python bench/milvus_update.py [--articles 600] [--added 20]
           [--archive ../shared/data/newsarticles.jsonl]

Builds the archive's first ARTICLES articles and copies the build into Milvus (timed), then adds
the next ADDED articles and updates both the local index and Milvus (`index --update --backend`
does the same): prints the rows the update deleted and wrote, against the collection's, its
seconds against the full copy's, and the Milvus collections before and after (an update writes
into the served ones). Machine noise: compare only figures of one run.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bench.search_latency import machine  # noqa: E402
from helpers import free_port, start_milvus, stop_milvus  # noqa: E402
from indexer import build_index, update_index  # noqa: E402
from indexer.embedding.embedder import Embedder  # noqa: E402
from indexer.retrieval.milvus.client import MilvusAddress, connect  # noqa: E402
from indexer.retrieval.milvus.sync import update  # noqa: E402
from indexer.retrieval.milvus.upload import upload  # noqa: E402
from indexer.storage.indexdir import current_build  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", default="../shared/data/newsarticles.jsonl")
    parser.add_argument("--articles", type=int, default=600)
    parser.add_argument("--added", type=int, default=20)
    args = parser.parse_args()
    print(machine())
    work = Path(tempfile.mkdtemp(prefix="milvus-update-"))
    lines = Path(args.archive).read_text().splitlines()[:args.articles + args.added]
    archive = work / "archive.jsonl"
    archive.write_text("\n".join(lines[:args.articles]) + "\n")
    embedder = Embedder()
    build_index([archive], work / "ix", embedder=embedder, store_kind="flat")
    port = free_port()
    proc = start_milvus(work / "milvus", port)
    try:
        address = MilvusAddress.parse(f"milvus://127.0.0.1:{port}/bench")
        started = time.perf_counter()
        upload(current_build(work / "ix"), address)
        copy = time.perf_counter() - started
        client = connect(address)
        before = sorted(client.list_collections())
        served = current_build(work / "ix")
        archive.write_text("\n".join(lines) + "\n")
        update_index([archive], work / "ix", embedder=embedder)
        started = time.perf_counter()
        written = update(current_build(work / "ix"), served, address)
        took = time.perf_counter() - started
        rows = {kind: client.query(f"{written.collection.removesuffix('__passages')}__{kind}",
                                   filter="", output_fields=["count(*)"])[0]["count(*)"]
                for kind in ("articles", "passages")}
        print(f"full copy: {rows['articles']} articles, {rows['passages']} passages in "
              f"{copy:.1f} s")
        print(f"update adding {args.added}: {written.articles_written} articles "
              f"({written.passages_written} passages) written, {written.articles_deleted} "
              f"({written.passages_deleted}) deleted, {written.terms_written} term counts, in "
              f"{took:.1f} s ({took / copy:.1%} of the copy's time)")
        after = sorted(client.list_collections())
        print(f"collections before and after: {before == after} ({len(after)})")
    finally:
        stop_milvus(proc)
        shutil.rmtree(work, ignore_errors=True)  # its archive, index and Milvus data


if __name__ == "__main__":
    main()
