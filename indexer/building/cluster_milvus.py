"""A build on a Ray cluster written straight into Milvus: the archive is read twice by the
cluster's tasks (cluster_stories.survey, then embedding), and the actors that embed write the
rows themselves; the terms' passage counts are summed as they come by actors that each hold a
share of the vocabulary, and written from the cluster too. The machine running `index` lists the
files, creates the collections, receives reports and counts, and moves the alias once all is
written: no article, passage or vector passes through it, and it loads no model.

Threads and entities are the local index's alone (they need every article at once: an index
folder); a build into Milvus has none, and says so.
"""

from __future__ import annotations

import os
import pickle
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Sequence

import numpy as np

from indexer.articles import printable
from indexer.building.cluster_stories import Archive, keyed, survey
from indexer.building.ray_cluster import RayCluster, _reported
from indexer.chunking import chunk_article, embedding_text
from indexer.embedding.embedder import Embedder
from indexer.errors import EmptyArchiveError, IndexerError
from indexer.progress import say
from indexer.reading.report import ReadOptions, ReadReport
from indexer.retrieval.milvus.client import MilvusAddress, client_at, connect, reason
from indexer.retrieval.milvus.rows import article_row, passage_row, text_rows
from indexer.retrieval.milvus.schema import KINDS, create
from indexer.retrieval.milvus.sync import count_terms
from indexer.retrieval.milvus.upload import (GRACE_SECONDS, _drop, _drop_old_builds, _publish,
                                             insert)
from indexer.storage.manifest import Manifest

POSITION_BITS = 17  # a passage's id: (its article's key << POSITION_BITS) | its position


@dataclass(frozen=True)
class ClusterBuild:
    """What a build into Milvus read, skipped and wrote, and where."""

    collection: str
    manifest: Manifest
    report: ReadReport
    nodes: int  # Ray nodes whose actors wrote rows


class _TermShard:
    """A running sum of the passage counts of the terms that fall to it (term % shards): what
    the object store holds of the counts is one batch's in flight, not every batch's."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()

    def add(self, terms: np.ndarray, counts: np.ndarray) -> None:
        self.counts.update(dict(zip(terms.tolist(), counts.tolist())))

    def write(self, uri: str, name: str, moved: bool) -> int:
        """Its sums written to the terms collection (moved: added to the counts there, as an
        update moves them); how many terms."""
        client = client_at(uri)
        if moved:
            return count_terms(client, name, self.counts)
        insert(client, name, [{"term": int(t), "passages": int(n), "placeholder": [0.0, 0.0]}
                              for t, n in self.counts.items()])
        return len(self.counts)


def add_counts(shards: list, held: Counter) -> None:
    """Counts (term number -> passages, negative for passages deleted) added to the shards, and
    waited for: a slow shard slows the writers rather than piling counts up in the object
    store."""
    import ray

    terms = np.array(sorted(held), dtype=np.int64)
    counts = np.array([held[t] for t in terms.tolist()], dtype=np.int64)
    share = terms % len(shards)
    ray.get([shard.add.remote(terms[share == i], counts[share == i])
             for i, shard in enumerate(shards) if (share == i).any()])


def term_shards(cluster: RayCluster) -> list:
    """The actors that sum the terms' counts. No CPU asked: they wait on messages; spread, so
    no one machine holds the vocabulary."""
    import ray

    return [ray.remote(_TermShard).options(num_cpus=0, scheduling_strategy="SPREAD").remote()
            for _ in range(max(2, cluster.actors))]


def write_terms(shards: list, uri: str, name: str, moved: bool = False) -> int:
    """The shards' sums written (see _TermShard.write), then the shards ended; how many."""
    import ray

    try:
        return sum(ray.get([shard.write.remote(uri, name, moved) for shard in shards]))
    finally:
        for shard in shards:
            ray.kill(shard)


class _EmbedAndWrite:
    """One actor: the model loaded once, a Milvus client; batches of keyed articles chunked,
    embedded and written as rows, the batch's terms' passage counts added to the term shards;
    what it returns: one row of the batch's counts and its node."""

    def __init__(self, model: str, precision: str, threads: int, gpu: bool, max_words: int,
                 overlap: int, uri: str, base: str, known: list, shards: list):
        import ray
        self.embedder = Embedder(model, device=None if gpu else "cpu", precision=precision,
                                 threads=threads)
        self.embedder.load_passage_model()
        self.max_words, self.overlap, self.base = max_words, overlap, base
        self.client = client_at(uri)
        # A reference in a list: not resolved. keys: the articles to write (by the survey's
        # key) with their keys in Milvus; None: all, under the survey's keys.
        self.stories, self.skipped, self.keys = ray.get(known[0])
        self.node = ray.get_runtime_context().get_node_id()
        self.shards = shards

    def __call__(self, batch: dict) -> dict:
        todo = [(int(k) if self.keys is None else self.keys[int(k)], pickle.loads(i))
                for k, i in zip(batch["key"], batch["item"]) if k >= 0 and int(k) not in
                self.skipped and (self.keys is None or int(k) in self.keys)]
        chunked = [(k, a, chunk_article(a, self.max_words, self.overlap)) for k, a in todo]
        texts = [embedding_text(a.title, p.text) for _, a, ps in chunked for p in ps]
        vectors = self.embedder.encode(texts) if texts else np.zeros((0, 1), np.float32)
        rows: dict[str, list] = {kind: [] for kind in ("articles", "texts", "passages")}
        held: Counter = Counter()
        at = 0
        for key, a, passages in chunked:
            story, size = self.stories.get(key, (key, 1))
            fields = {"id": a.id, "title": a.title, "text": a.text, "date": a.date,
                      "source": a.source, "url": a.url, "origin": a.origin,
                      "content_hash": a.content_hash, "language": a.language}
            rows["articles"].append(article_row(key, fields, story, vectors[at]))
            rows["texts"].extend(text_rows(key, a.text))
            for p, vector in zip(passages, vectors[at:at + len(passages)]):
                row, terms = passage_row(((key << POSITION_BITS) | p.position, key, p.position,
                                          p.start, p.end, p.text), vector, fields, story,
                                         size - 1)
                rows["passages"].append(row)
                held.update(terms)
            at += len(passages)
        for kind, found in rows.items():
            insert(self.client, f"{self.base}__{kind}", found)
        add_counts(self.shards, held)
        return {"articles": np.array([len(todo)], dtype=np.int64),
                "passages": np.array([len(rows["passages"])], dtype=np.int64),
                "about": np.array([f"{self.node} {self.embedder.passage_precision}"],
                                  dtype=object)}

def _report(found: Archive, reports, listing, report: ReadReport) -> None:  # noqa: ANN001
    """What reading skipped, in order (tasks' rows, then the listing's last), and the later
    copies of an id, into report."""
    for _ in _reported(iter(reports.iter_rows()) if reports is not None else iter(()), report):
        pass
    for skipped in listing.pending:
        report.skip(skipped.where, skipped.reason)
    report.skip_count += listing.more
    for _, aid, origin, first in found.skipped:
        report.articles -= 1
        report.skip(origin, f"duplicate article id '{aid}' (first read from {first}): ids "
                    "must be unique; the first was indexed")


def surveyed(paths: Sequence[Path], address: MilvusAddress, cluster: RayCluster,
             options: ReadOptions, progress: bool) -> tuple[object, Archive, ReadReport]:
    """Pass one (cluster_stories.survey): the archive's dataset of keyed rows, what the survey
    found, and what reading skipped; EmptyArchiveError when it holds no article."""
    import ray

    items, listing = cluster.items([Path(p) for p in paths], options)
    report, read = ReadReport(), None
    if items:
        read = ray.data.from_items(items, override_num_blocks=len(items)).flat_map(
            keyed, fn_kwargs={"options": options, "cwd": os.fsencode(os.getcwd())})
    if progress:
        say("Surveying the archive on the cluster (ids, syndicated copies, counts)")
    found, reports = survey(read) if read is not None else (Archive(), None)
    _report(found, reports, listing, report)
    if found.articles <= 0:  # the ids read twice are not counted
        raise EmptyArchiveError(f"no articles found in {', '.join(map(printable, paths))} "
                                f"({report.files} files read, {report.skip_count} skipped): "
                                f"nothing was changed in {address}")
    return read, found, report


def build_into_milvus(paths: Sequence[Path], address: MilvusAddress, cluster: RayCluster,
                      model: str, max_words: int, overlap: int, precision: str = "int8",
                      options: ReadOptions = ReadOptions(), progress: bool = False,
                      grace: float = GRACE_SECONDS) -> ClusterBuild:
    """Build the archive at paths into new Milvus collections on the cluster, then move the
    alias to them: the build served before keeps serving until then, and a failure leaves it
    served (and drops what was written)."""
    started = time.perf_counter()
    client = connect(address)
    dimension = Embedder(model, precision=precision).dimension  # read from its files, not loaded
    read, found, report = surveyed(paths, address, cluster, options, progress)
    stamp = time.strftime("%Y%m%dT%H%M%S") + f"{time.time_ns() % 1_000_000_000:09d}"
    names = {kind: f"{address.name}__{stamp}__{kind}" for kind in KINDS}
    try:
        vectors = create(client, names, dimension)
        if progress:
            say(f"Embedding and writing to Milvus with {cluster.actors} actors on Ray")
        shards = term_shards(cluster)
        counts, nodes, made = embed_and_write(
            read, cluster, names["passages"].removesuffix("__passages"), address.uri,
            (found.stories, {key for key, *_ in found.skipped}, None), shards, model,
            precision, max_words, overlap)
        write_terms(shards, address.uri, names["terms"])
        manifest = Manifest(model=model, dimension=dimension, max_words=max_words,
                            overlap=overlap, articles=counts[0], passages=counts[1],
                            built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                            build_seconds=round(time.perf_counter() - started, 3),
                            store=f"milvus-{vectors.lower()}-ip",
                            store_choice=vectors.lower(), precision=made,
                            sources=[printable(Path(p).resolve()) for p in paths],
                            skipped=report.skip_count)
        _publish(client, address, names, SimpleNamespace(
            manifest=manifest, sources=found.outlets(), languages=found.spoken(),
            newest=found.newest, oldest=found.oldest))
    except BaseException as exc:
        _drop(client, names.values())
        if isinstance(exc, (IndexerError, KeyboardInterrupt)) or not isinstance(exc, Exception):
            raise
        raise IndexerError(f"the build on the cluster into {address} failed ({reason(exc)}): "
                           "the index served is unchanged; check the cluster (`ray status`) "
                           "and Milvus, and run it again") from None
    _drop_old_builds(client, address, grace)
    return ClusterBuild(names["passages"], manifest, report, nodes)


def embed_and_write(read, cluster: RayCluster, base: str, uri: str, known: tuple,  # noqa: ANN001
                    shards: list, model: str, precision: str, max_words: int, overlap: int
                    ) -> tuple[tuple[int, int], int, str]:
    """Pass two: the actors embed and write the articles (known: the stories by key, the
    survey's keys skipped, and the keys written, see _EmbedAndWrite), adding their terms'
    counts to the shards. ((articles, passages) written, the nodes that wrote, the vectors'
    precision)."""
    import ray
    from ray.data import ActorPoolStrategy

    written = read.map_batches(
        _EmbedAndWrite, batch_size=32, batch_format="numpy",
        fn_constructor_kwargs={"model": model, "precision": precision,
                               "threads": cluster.cpus_each, "gpu": bool(cluster.gpus),
                               "max_words": max_words, "overlap": overlap, "uri": uri,
                               "base": base, "known": [ray.put(known)], "shards": shards},
        # Less than the CPUs the actor's threads use: the reading tasks before it in the
        # stream need one too, or an actor holding every CPU waits on them for ever.
        # One batch in flight an actor: a batch goes to the actor free for it, not queued
        # behind the first actor that started.
        compute=ActorPoolStrategy(size=cluster.actors, max_tasks_in_flight_per_actor=1),
        num_cpus=max(0.5, cluster.cpus_each - 1),
        num_gpus=1 if cluster.gpus else 0).take_all()
    about = [r["about"].split(" ") for r in written]
    made = {precision for _, precision in about}
    return ((sum(int(r["articles"]) for r in written),
             sum(int(r["passages"]) for r in written)),
            len({node for node, _ in about}), made.pop() if len(made) == 1 else "mixed")
