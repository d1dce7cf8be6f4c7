"""A complete local build copied into new Milvus collections, which the address's name serves
once whole (registry.py)."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterable

from indexer.errors import IndexerError
from indexer.retrieval.milvus.client import (
    BATCH,
    KEEP_BUILDS,
    BackendUnavailableError,
    MilvusAddress,
    connect,
    reason,
)
from indexer.retrieval.milvus.registry import forget, serve
from indexer.retrieval.milvus.registry import describe as describe_build
from indexer.retrieval.milvus.rows import Rows
from indexer.retrieval.milvus.schema import KINDS, create
from indexer.storage.manifest import Manifest

GRACE_SECONDS = 3.0  # for searches under way in the build before, before it is released


def upload(folder: Path, address: MilvusAddress, progress: bool = False,
           grace: float = GRACE_SECONDS) -> str:
    """Copy a complete local build folder (its vectors as stored: flat, as the CLI builds one
    for Milvus) into new Milvus collections, then serve them under the address's name: the
    build served before keeps serving until then, and a failure leaves it served; it is
    released `grace` seconds later. The passages collection's name."""
    from indexer.retrieval.local import LocalBuild

    client = connect(address)
    build = LocalBuild(folder, Manifest.read(folder).model)
    stamp = time.strftime("%Y%m%dT%H%M%S") + f"{time.time_ns() % 1_000_000_000:09d}"
    base = f"{address.name}__{stamp}"
    names = {kind: f"{base}__{kind}" for kind in KINDS}
    try:
        create(client, names, build.manifest.dimension)
        _write(client, names, Rows(build), progress)
        _publish(client, address, names, build)
    except IndexerError:
        _drop(client, names.values())
        raise
    except BaseException as exc:
        _drop(client, names.values())
        if isinstance(exc, Exception):
            raise BackendUnavailableError(
                f"writing to Milvus at {address.uri} failed "
                f"({reason(exc)}); the index served is unchanged"
            ) from None
        raise
    _drop_old_builds(client, address, grace)
    return names["passages"]


def _write(client: Any, names: dict[str, str], rows: Rows, progress: bool) -> None:
    """Every article's rows and texts, every passage's rows, and the terms' passage counts."""
    from indexer.progress import progress_bar

    articles, texts = rows.article_rows(rows.articles)
    insert(client, names["articles"], articles)
    insert(client, names["texts"], texts)
    bar = progress_bar(total=len(rows.passage_rows), desc="Passages to Milvus",
                       unit=" passages", disable=not progress, leave=False)
    held: Counter = Counter()
    for block, counts in rows.passage_blocks():
        insert(client, names["passages"], block)
        held.update(counts)
        bar.update(len(block))
    bar.close()
    insert(client, names["terms"], [{"term": k, "passages": n, "placeholder": [0.0, 0.0]}
                                     for k, n in held.items()])


def describe(client: Any, collection: str, build: Any) -> None:
    """What the searcher reads of the build (its manifest, outlets, languages, dates), written
    for its passages collection: a new manifest is a new generation to the searchers."""
    describe_build(client, collection, {
        "manifest": asdict(build.manifest), "sources": build.sources,
        "languages": build.languages,
        "newest": None if build.newest != build.newest else build.newest,
        "oldest": None if build.oldest != build.oldest else build.oldest})


def _publish(client: Any, address: MilvusAddress, names: dict[str, str], build: Any) -> None:
    """The build described; every collection flushed and loaded; then the name moved to it."""
    describe(client, names["passages"], build)
    for name in names.values():
        client.flush(name)
        client.load_collection(name)
    serve(client, address, names["passages"])


def insert(client: Any, collection: str, rows: list[dict], upsert: bool = False) -> None:
    """The rows written (upsert: replacing those of their keys), BATCH at a time."""
    write = client.upsert if upsert else client.insert
    for at in range(0, len(rows), BATCH):
        write(collection, rows[at:at + BATCH])


def _drop(client: Any, names: Iterable[str]) -> None:
    """The collections dropped, and the description of their build."""
    names = list(names)
    for name in names:
        try:
            client.drop_collection(name)
        except Exception:  # noqa: BLE001, S110 - best effort: a half-made build is unnamed
            pass
    try:
        forget(client, [n for n in names if n.endswith("__passages")])
    except Exception:  # noqa: BLE001, S110 - best effort: a description no name serves
        pass


def _drop_old_builds(client: Any, address: MilvusAddress, grace: float) -> None:
    """Release the builds of this name but the newest (the one served) from Milvus' memory once
    the searches under way have had `grace` seconds to end (a searcher checks the name every
    second), and drop all but the newest KEEP_BUILDS (the one before stays on disk, to go back
    to)."""
    prefix = f"{address.name}__"
    stamps = sorted({n[len(prefix):].split("__")[0] for n in client.list_collections()
                     if n.startswith(prefix)}, reverse=True)
    if len(stamps) > 1:
        time.sleep(grace)
    for stamp in stamps[1:KEEP_BUILDS]:
        for kind in KINDS:
            try:
                client.release_collection(f"{prefix}{stamp}__{kind}")
            except Exception:  # noqa: BLE001, S110 - best effort: it is not served
                pass
    for stamp in stamps[KEEP_BUILDS:]:
        _drop(client, [f"{prefix}{stamp}__{kind}" for kind in KINDS])
