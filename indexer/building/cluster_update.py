"""An update of a build that a Ray cluster wrote into Milvus, made on the cluster and written into
the collections served: the archive surveyed again (cluster_stories.survey) and joined by article
id with the articles Milvus holds (read by tasks on the cluster, a range of ids each), then only
what differs is written: the rows of removed and changed articles deleted, new and changed
articles embedded and written by the actors, the articles whose story gained or lost a copy
rewritten, the terms' counts moved by the term shards. The machine running `index` holds counts
and keys (of the articles written and of those in stories of several), never an article.

As with an index folder's update (retrieval/milvus/sync.py), searches during it may miss a
changed article for a moment and see new ones before the manifest that counts them; the searchers
start afresh once it is written.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator, Sequence

import numpy as np

from indexer.articles import printable
from indexer.building.cluster_milvus import (add_counts, embed_and_write, surveyed, term_shards,
                                             write_terms)
from indexer.building.cluster_stories import Archive
from indexer.building.ray_cluster import RayCluster
from indexer.errors import IndexerError, IndexNotFoundError
from indexer.progress import say
from indexer.reading.report import ReadOptions, ReadReport
from indexer.retrieval.milvus.client import (MilvusAddress, client_at, connect, literal, reason,
                                             term_number)
from indexer.retrieval.milvus.registry import held, served_collection
from indexer.retrieval.milvus.rows import article_row, passage_row, passage_words
from indexer.retrieval.milvus.schema import KINDS
from indexer.retrieval.milvus.upload import describe, insert
from indexer.storage.manifest import Manifest
from indexer.terms import analyse

KEPT, NEW, CHANGED, REMOVED = 0, 1, 2, 3  # an article id's status, read against Milvus
PART = 200  # articles whose rows one query reads (about 10 passages each: under Milvus' limit)
SCAN_ARTICLES, MAX_SCANS = 250_000, 64  # articles Milvus holds that one task reads, tasks at most


@dataclass
class Plan:
    """What the update writes, in Milvus' keys: the articles written (by the survey's key),
    each written article's story and its size, the kept articles moved to another story (key,
    story, copies), and how many ids have each status."""

    keys: dict[int, int] = field(default_factory=dict)
    stories: dict[int, tuple[int, int]] = field(default_factory=dict)
    moved: list[tuple[int, int, int]] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)


@dataclass(frozen=True)
class ClusterUpdate:
    """What an update on the cluster read and wrote."""

    collection: str
    manifest: Manifest
    report: ReadReport
    statuses: Counter
    passages_deleted: int
    passages_written: int
    moved: int  # articles rewritten into another story
    terms: int  # term counts moved
    nodes: int


def _served(part: dict, uri: str, name: str) -> Iterator[dict]:
    """Every article Milvus holds of the build whose id is in the part's range (low <= id <
    high, either end open where None): its id, key, content hash and story."""
    bounds = [f"id >= {literal(part['low'])}" if part["low"] is not None else "",
              f"id < {literal(part['high'])}" if part["high"] is not None else ""]
    rows = client_at(uri).query_iterator(
        name, filter=" and ".join(b for b in bounds if b),
        output_fields=["key", "id", "content_hash", "story"], batch_size=4096)
    try:
        while batch := rows.next():
            for r in batch:
                yield {"id": r["id"], "skey": -1, "key": int(r["key"]), "hash": r["content_hash"],
                       "story": int(r["story"])}
    finally:
        rows.close()


def _parts(found: Archive) -> list[dict]:
    """Ranges of ids that cut the archive in parts of about SCAN_ARTICLES (by a sample of its
    ids), each read from Milvus by a task of its own: ids compare as text alike in Milvus and
    here (by code point)."""
    parts = min(MAX_SCANS, max(2, -(-found.articles // SCAN_ARTICLES)))
    fraction = min(1.0, 100 * parts / max(1, found.articles))
    ids = sorted({r["id"] for r in found.profiles.select_columns(["id"])
                  .random_sample(fraction, seed=0).take_all()})
    cuts = sorted({ids[len(ids) * i // parts] for i in range(1, parts)}) if ids else []
    return [{"low": low, "high": high} for low, high in zip([None, *cuts], [*cuts, None])]


def _read_side(batch: dict) -> dict:
    """The survey's articles, in the join's columns (the survey's key as skey)."""
    none = np.full(len(batch["key"]), -1, dtype=np.int64)
    return {"id": batch["id"], "skey": batch["key"].astype(np.int64), "key": none,
            "hash": batch["hash"], "story": none}


def _classify(group: dict) -> dict:
    """One article id's rows (read, held by Milvus, or both) as one row: its status, the
    survey's key, and its key and story in Milvus (-1 where a side has none)."""
    read, kept = np.flatnonzero(group["skey"] >= 0), np.flatnonzero(group["skey"] < 0)
    if len(read) and len(kept):
        status = KEPT if group["hash"][read[0]] == group["hash"][kept[0]] else CHANGED
    else:
        status = NEW if len(read) else REMOVED
    return {"id": group["id"][:1], "status": np.array([status], dtype=np.int64),
            "skey": np.array([group["skey"][read[0]] if len(read) else -1], dtype=np.int64),
            "key": np.array([group["key"][kept[0]] if len(kept) else -1], dtype=np.int64),
            "story": np.array([group["story"][kept[0]] if len(kept) else -1], dtype=np.int64)}


def _joined(found: Archive, uri: str, articles: str) -> Any:
    """The archive's articles and Milvus' joined by id, on the cluster."""
    import ray

    parts = _parts(found)
    served = ray.data.from_items(parts, override_num_blocks=len(parts)).flat_map(
        _served, fn_kwargs={"uri": uri, "name": articles})
    read = found.profiles.select_columns(["id", "key", "hash"]).map_batches(
        _read_side, batch_format="numpy")
    return read.union(served).groupby("id").map_groups(_classify, batch_format="numpy") \
        .materialize()


def _plan(joined: Any, found: Archive) -> Plan:
    """The keys, stories and moves of the update (see Plan): new articles take keys past the
    largest Milvus holds, changed ones keep theirs; a story is named by its least key."""
    plan = Plan(statuses=Counter({int(r["status"]): int(r["count()"]) for r in
                                  joined.groupby("status").count().take_all()}))
    top = joined.max("key")
    had = {int(r["story"]): int(r["count()"]) for r in joined.filter(expr="key >= 0")
           .groupby("story").count().filter(lambda r: r["count()"] > 1).take_all()}
    syndicated = set(found.stories)
    rows = joined.filter(lambda r: r["status"] in (NEW, CHANGED) or r["skey"] in syndicated
                         or r["story"] in had).take_all()
    key_of = {int(r["skey"]): int(r["key"]) for r in rows if r["status"] in (KEPT, CHANGED)}
    fresh = sorted(int(r["skey"]) for r in rows if r["status"] == NEW)
    key_of.update((skey, (top if top is not None else -1) + 1 + i)
                  for i, skey in enumerate(fresh))
    heads: dict[int, int] = {}
    for skey, (head, _) in found.stories.items():
        heads[head] = min(heads.get(head, key_of[skey]), key_of[skey])
    story_of = {key_of[skey]: (heads[head], size) for skey, (head, size) in found.stories.items()}
    plan.keys = {int(r["skey"]): key_of[int(r["skey"])] for r in rows
                 if r["status"] in (NEW, CHANGED)}
    plan.stories = {key: story_of[key] for key in plan.keys.values() if key in story_of}
    for r in rows:
        key = int(r["key"])
        if r["status"] == KEPT and (want := story_of.get(key, (key, 1))) != \
                (int(r["story"]), had.get(int(r["story"]), 1)):
            plan.moved.append((key, want[0], want[1] - 1))
    return plan


def _delete(batch: dict, uri: str, base: str, shards: list) -> dict:
    """These articles' rows (by key) deleted, their passages' terms taken off the counts."""
    client = client_at(uri)
    keys = [int(k) for k in batch["key"]]
    lost: Counter = Counter()
    rows = client.query(f"{base}__passages", filter=f"article in {keys}",
                        output_fields=["pid", "title", "text"])
    for row in rows:
        lost.update(set(map(term_number, analyse(passage_words(row["title"], row["text"])))))
    for kind, by in (("passages", "article"), ("texts", "article"), ("articles", "key")):
        client.delete(f"{base}__{kind}", filter=f"{by} in {keys}")
    add_counts(shards, Counter({term: -n for term, n in lost.items()}))
    return {"passages": np.array([len(rows)], dtype=np.int64)}


def _fields() -> tuple[list[str], list[str]]:
    """What an article's row and a passage's row hold that is written (not computed)."""
    fields = dict.fromkeys(("id", "title", "text", "date", "source", "url", "origin",
                            "content_hash", "language"), "")
    return (list(article_row(0, fields, 0, np.zeros(1))),
            list(passage_row((0, 0, 0, 0, 0, ""), np.zeros(1), fields, 0, 0)[0]))


def _restory(batch: dict, uri: str, base: str) -> dict:
    """These articles' rows (by key) rewritten in their new story (its key, and the copies it
    holds besides the article)."""
    client = client_at(uri)
    to = {int(k): (int(s), int(c)) for k, s, c in zip(batch["key"], batch["story"],
                                                     batch["copies"])}
    article_fields, passage_fields = _fields()
    articles = client.query(f"{base}__articles", filter=f"key in {sorted(to)}",
                            output_fields=article_fields)
    passages = client.query(f"{base}__passages", filter=f"article in {sorted(to)}",
                            output_fields=passage_fields)
    for row in articles:
        row["story"] = to[int(row["key"])][0]
    for row in passages:
        row["story"], row["copies"] = to[int(row["article"])]
    insert(client, f"{base}__articles", articles, upsert=True)
    insert(client, f"{base}__passages", passages, upsert=True)
    return {"articles": np.array([len(articles)], dtype=np.int64)}


def _write(joined: Any, plan: Plan, read: Any, found: Archive, cluster: RayCluster,
           uri: str, base: str, old: Manifest) -> tuple[int, int, int, int, str]:
    """The rows deleted, written and moved, then the terms' counts; (passages deleted and
    written, the nodes that wrote, terms moved, the vectors' precision)."""
    import ray

    shards = term_shards(cluster)
    gone = joined.filter(expr=f"status >= {CHANGED}")  # changed or removed: old rows go first
    deleted = sum(int(r["passages"]) for r in gone.map_batches(
        _delete, batch_size=PART, batch_format="numpy",
        fn_kwargs={"uri": uri, "base": base, "shards": shards}).take_all())
    (_, written), nodes, made = embed_and_write(
        read, cluster, base, uri, (plan.stories, {k for k, *_ in found.skipped}, plan.keys),
        shards, old.model, old.precision, old.max_words, old.overlap) if plan.keys \
        else ((0, 0), 0, old.precision)
    if plan.moved:
        ray.data.from_items([{"key": k, "story": s, "copies": c} for k, s, c in plan.moved]) \
            .map_batches(_restory, batch_size=PART, batch_format="numpy",
                         fn_kwargs={"uri": uri, "base": base}).take_all()
    terms = write_terms(shards, uri, f"{base}__terms", moved=True)
    return deleted, written, nodes, terms, made


def update_on_cluster(paths: Sequence[Path], address: MilvusAddress, cluster: RayCluster,
                      model: str, options: ReadOptions = ReadOptions(), progress: bool = False
                      ) -> ClusterUpdate:
    """Bring the build Milvus serves at address (written by a cluster) to the archive at paths,
    on the cluster, writing only what differs; the manifest, written last, is a new
    generation to the searchers."""
    started = time.perf_counter()
    client = connect(address)
    collection = served_collection(client, address)
    if collection is None:
        raise IndexNotFoundError(f"{address} serves no index to update: build it first with "
                                 f"`news-search index PATH --ray --backend {address}`")
    old = Manifest(**held(client, collection)["manifest"])
    old.check_model(model, Path(str(address)))
    base = collection.removesuffix("__passages")
    read, found, report = surveyed(paths, address, cluster, options, progress)
    try:
        if progress:
            say(f"Reading what {address} holds and joining it with the archive on the cluster")
        joined = _joined(found, address.uri, f"{base}__articles")
        plan = _plan(joined, found)
        if progress:
            say(f"Writing the update with {cluster.actors} actors on Ray")
        deleted, written, nodes, terms, made = _write(joined, plan, read, found, cluster,
                                                      address.uri, base, old)
        for kind in KINDS:
            client.flush(f"{base}__{kind}")
        s = plan.statuses
        manifest = replace(old, articles=found.articles,
                           passages=old.passages - deleted + written,
                           built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                           build_seconds=round(time.perf_counter() - started, 3),
                           precision=made if made == old.precision or not plan.keys else "mixed",
                           sources=[printable(Path(p).resolve()) for p in paths],
                           skipped=report.skip_count, updated={
                               "added": s[NEW], "changed": s[CHANGED], "removed": s[REMOVED]})
        describe(client, collection, SimpleNamespace(
            manifest=manifest, sources=found.outlets(), languages=found.spoken(),
            newest=found.newest, oldest=found.oldest))
    except Exception as exc:  # noqa: BLE001 - Ray's, pymilvus' and grpc's errors alike
        if isinstance(exc, IndexerError):
            raise
        raise IndexerError(f"the update on the cluster of {address} failed ({reason(exc)}): "
                           "the collections served may hold part of it; run the update again, "
                           "or build without --update to write the archive whole") from None
    return ClusterUpdate(collection, manifest, report, plan.statuses, deleted, written,
                         len(plan.moved), terms, nodes)
