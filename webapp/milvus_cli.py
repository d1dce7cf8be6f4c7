"""The CLI's builds into Milvus: a local build copied or its update written, and a build on a
Ray cluster written straight from the cluster, or its update."""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

from indexer.building.cluster_milvus import build_into_milvus
from indexer.building.cluster_update import ClusterUpdate, update_on_cluster
from indexer.building.ray_cluster import RayCluster, stop_ray
from indexer.chunking import DEFAULT_MAX_WORDS, DEFAULT_OVERLAP
from indexer.errors import IndexerError
from indexer.reading.report import ReadOptions
from indexer.retrieval.milvus.client import MilvusAddress
from indexer.retrieval.milvus.sync import Written, update
from indexer.retrieval.milvus.upload import upload
from indexer.storage.indexdir import current_build
from webapp.options import count_of, echo_read

def copy_to_milvus(index_dir: Path, address: MilvusAddress, before: Path | None) -> None:
    """Copy the index folder's build to Milvus, its name moving to it once it is complete; an
    update of the build Milvus serves (before) writes only what changed."""
    started = time.perf_counter()
    try:
        if before is not None:
            click.echo(f"Writing the update of {current_build(index_dir)} to {address}",
                       err=True)
            w = update(current_build(index_dir), before, address, progress=True)
        else:
            click.echo(f"Copying {current_build(index_dir)} to {address}", err=True)
            w = Written(upload(current_build(index_dir), address, progress=True), whole=True)
    except KeyboardInterrupt:
        click.echo(f"\nError: interrupted: {address} is unchanged", err=True)
        os._exit(130)
    took = time.perf_counter() - started
    if w.whole:
        click.echo(f"Copied in {took:.1f} s to {w.collection}; it is now the index served as "
                   f"{address}")
    else:
        click.echo(f"Updated {address} in {took:.1f} s: {count_of(w.articles_deleted, 'article')}"
                   f" ({count_of(w.passages_deleted, 'passage')}) deleted, "
                   f"{count_of(w.articles_written, 'article')} "
                   f"({count_of(w.passages_written, 'passage')}) written, "
                   f"{count_of(w.terms_written, 'term count')} moved")


def build_on_cluster(paths: list[Path], address: MilvusAddress, cluster: RayCluster, model: str,
                     precision: str | None, options: ReadOptions, entities: bool,
                     update: bool = False) -> None:
    """Build the archive on the cluster straight into Milvus (building/cluster_milvus.py), or
    update the build it wrote there (building/cluster_update.py)."""
    if entities:
        raise IndexerError("--entities needs an index folder: a build on a Ray cluster into "
                           "Milvus has no entities (nor threads); build without --ray, or "
                           "without --entities")
    click.echo(f"{'Updating' if update else 'Building'} {address} on the Ray cluster from "
               f"{', '.join(map(str, paths))} with {model}", err=True)
    try:
        if update:
            return _updated(update_on_cluster(paths, address, cluster, model, options,
                                              progress=True), address)
        built = build_into_milvus(paths, address, cluster, model, DEFAULT_MAX_WORDS,
                                  DEFAULT_OVERLAP, precision or "int8", options, progress=True)
    except KeyboardInterrupt:
        click.echo(f"\nError: interrupted: {address} is unchanged", err=True)
        os._exit(130)
    finally:
        stop_ray()
    report, m = built.report, built.manifest
    echo_read(report, m.articles)
    click.echo(f"Wrote {count_of(m.passages, 'passage')} ({m.precision}) from "
               f"{count_of(built.nodes, 'Ray node')} in {m.build_seconds:.1f} s to "
               f"{built.collection}; it is now the index served as {address}")


def _updated(u: ClusterUpdate, address: MilvusAddress) -> None:
    m = u.manifest
    echo_read(u.report, m.articles)
    if not (u.passages_deleted or u.passages_written or u.moved or u.terms):
        click.echo(f"Updated {address} on the cluster in {m.build_seconds:.1f} s: no article "
                   f"changed, nothing written; {count_of(m.passages, 'passage')} in all")
        return
    click.echo(f"Updated {address} on the cluster in {m.build_seconds:.1f} s: "
               f"{count_of(m.updated['added'], 'article')} added, {m.updated['changed']} "
               f"changed (re-embedded), {m.updated['removed']} removed; "
               f"{count_of(u.passages_deleted, 'passage')} deleted, {u.passages_written} "
               f"written from {count_of(u.nodes, 'Ray node')}, "
               f"{count_of(u.moved, 'article')} moved to another story, "
               f"{count_of(u.terms, 'term count')} moved; {count_of(m.passages, 'passage')} in all")
