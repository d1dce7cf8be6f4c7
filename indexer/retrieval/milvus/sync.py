"""An update written into the collections served: the rows of the articles that changed,
deleted and written, and the terms' counts they move; nothing else is read or written.

Milvus computes BM25 from the rows (its BM25 function), so a new row needs no corpus statistics
of ours. Searches during an update may miss a changed article for a moment (its old rows are
deleted before its new ones are written: a row id may be reused) and see the new articles
before the manifest that counts them; the searchers start afresh once it is written.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.retrieval.milvus.client import (BackendUnavailableError, MilvusAddress, connect,
                                             reason)
from indexer.retrieval.milvus.registry import held, served_collection
from indexer.retrieval.milvus.rows import Rows
from indexer.retrieval.milvus.upload import BATCH, describe, insert, upload
from indexer.storage.manifest import Manifest


@dataclass(frozen=True)
class Written:
    """What an update wrote: articles' and passages' rows deleted and written (terms apart)."""

    collection: str
    articles_deleted: int = 0
    passages_deleted: int = 0
    articles_written: int = 0
    passages_written: int = 0
    terms_written: int = 0
    whole: bool = False  # the build was copied whole (nothing served, or not the build before)


def update(folder: Path, before: Path, address: MilvusAddress, progress: bool = False
           ) -> Written:
    """Bring the build the address serves from the local build `before` to `folder` (an
    update of it) by deleting and writing only what differs; when the address serves anything
    else (or nothing), the build is copied whole (upload)."""
    from indexer.retrieval.local import LocalBuild

    client = connect(address)
    collection = served_collection(client, address)
    old = Manifest.read(before)
    if collection is None or held(client, collection)["manifest"].get("built_at") != old.built_at:
        return Written(upload(folder, address, progress), whole=True)
    new_build = LocalBuild(folder, Manifest.read(folder).model)
    old_build = LocalBuild(before, old.model)
    was, now = old_build.meta.story_rows(), new_build.meta.story_rows()
    gone = [k for k in was if now.get(k, ())[:2] != was[k][:2]]  # removed or changed
    fresh = [k for k in now if was.get(k, ())[:2] != now[k][:2]]  # added or changed
    moved = [k for k in now if k in was and was[k][:2] == now[k][:2] and was[k] != now[k]]
    base = collection.removesuffix("__passages")
    try:
        dropped = Rows(old_build, gone)
        passages_deleted = _delete(client, collection, "pid",
                                   [p[0] for p in dropped.passage_rows])
        _delete(client, f"{base}__texts", "article", gone)
        _delete(client, f"{base}__articles", "key", gone)
        written = _write(client, base, Rows(new_build, fresh), upsert=False)
        rewritten = _write(client, base, Rows(new_build, moved), upsert=True)
        change = written[2]
        change.subtract(dropped.held())  # a Counter's "-" would drop the terms lost
        terms = count_terms(client, f"{base}__terms", change)
        for kind in ("passages", "articles", "texts", "terms"):
            client.flush(f"{base}__{kind}")
        describe(client, collection, new_build)
    except Exception as exc:  # noqa: BLE001 - pymilvus and grpc errors alike
        raise BackendUnavailableError(
            f"updating {address} in Milvus at {address.uri} failed ({reason(exc)}): run the "
            "update again; the local index is updated, and the next update writes what this "
            "one did not (or `index PATH --backend ...` without --update copies it whole)"
        ) from None
    return Written(collection, len(gone), passages_deleted, written[0] + rewritten[0],
                   written[1] + rewritten[1], terms)


def _delete(client: Any, collection: str, field: str, values: list[int]) -> int:
    for at in range(0, len(values), BATCH):
        client.delete(collection, filter=f"{field} in {values[at:at + BATCH]}")
    return len(values)


def _write(client: Any, base: str, rows: Rows, upsert: bool) -> tuple[int, int, Counter]:
    """The rows' articles, texts (unless upsert: their text is unchanged) and passages written;
    (articles, passages, the passages' term counts)."""
    articles, texts = rows.article_rows(rows.articles)
    insert(client, f"{base}__articles", articles, upsert)
    if not upsert:
        insert(client, f"{base}__texts", texts)
    held: Counter = Counter()
    passages = 0
    for block, counts in rows.passage_blocks():
        insert(client, f"{base}__passages", block, upsert)
        held.update(counts)
        passages += len(block)
    return len(articles), passages, held


def count_terms(client: Any, collection: str, change: Counter) -> int:
    """The terms' passage counts moved by change (term number -> passages gained, or lost if
    negative); a term no passage holds any more is deleted. How many terms were written."""
    change = {k: n for k, n in change.items() if n}
    keys = sorted(change)
    counts: dict[int, int] = {}
    for at in range(0, len(keys), BATCH):
        counts.update((r["term"], r["passages"]) for r in client.query(
            collection, filter=f"term in {keys[at:at + BATCH]}",
            output_fields=["term", "passages"]))
    now = {k: counts.get(k, 0) + n for k, n in change.items()}
    insert(client, collection, [{"term": k, "passages": n, "placeholder": [0.0, 0.0]}
                                for k, n in now.items() if n > 0 and k not in counts])
    insert(client, collection, [{"term": k, "passages": n, "placeholder": [0.0, 0.0]}
                                for k, n in now.items() if n > 0 and k in counts], upsert=True)
    _delete(client, collection, "term", [k for k, n in now.items() if n <= 0])
    return len(now)
