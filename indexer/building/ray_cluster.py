"""Indexing across a Ray cluster with Ray Data: files are read in tasks, articles chunked and
embedded in a pool of actors, and the results stream back, in order, to the machine that runs
`news-search index`, which writes the index (FAISS, SQLite and keyword indexes, or Milvus).

Each actor loads the same model and embeds as a local build does (on a CPU: the int8 ONNX graph,
each passage alone), so the vectors equal a local build's; an actor takes a GPU where the cluster
has one. Every node reads the archive at the path given: on a cluster of several machines it
lies on storage they share.
"""

from __future__ import annotations

import logging
import os
import pickle
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from indexer.articles import Article, printable
from indexer.chunking import chunk_article, embedding_text
from indexer.embedding.embedder import DEFAULT_MODEL, Embedder
from indexer.errors import IndexerError
from indexer.analysis.language import detect
from indexer.reading.readers import archive_files, read_file
from indexer.reading.report import MAX_SKIPS_LISTED, ReadOptions, ReadReport, Skipped
from indexer.reading.streams import parts

LOCAL = "local"  # --ray without an address: a Ray cluster of this machine alone
PART_BYTES = 64 * 1024 * 1024  # a JSON Lines file larger than this is read in parts this size
ACTORS_READY_SECONDS = 600  # how long the actors may take to start and load the model
ARTICLES_A_BATCH = 32  # articles an actor chunks and embeds at a time (about 130 passages)

# What the build writes: (article, its passages, its story) and their passages' vectors.
Block = tuple[list[tuple[Article, list, str]], np.ndarray]


class _InOrder(ReadReport):
    """A report whose skips are kept until drained, as rows in reading order: the first
    MAX_SKIPS_LISTED of them (no report lists more), then how many more."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[Skipped] = []
        self.more = 0

    def skip(self, where: str, reason: str) -> None:
        self.skip_count += 1
        if len(self.pending) < MAX_SKIPS_LISTED:
            self.pending.append(Skipped(printable(where), printable(reason)))
        else:
            self.more += 1

    def drain(self) -> Iterator[dict]:
        yield from ({"item": pickle.dumps(skipped)} for skipped in self.pending)
        if self.more:
            yield {"item": pickle.dumps(self.more)}
        self.pending, self.more = [], 0


def _read(row: dict, options: ReadOptions, cwd: bytes) -> Iterator[dict]:
    """A Ray Data task's work: what the archive's listing skipped before this file, then the
    articles of the file, or of a part of it (their language found here too), and what it
    skips, in reading order, then its counts; each row pickled (a file name or a text need not
    be valid UTF-8). A path given relative is read from the folder `index` ran in."""
    if os.getcwd() != os.fsdecode(cwd) and os.path.isdir(cwd):
        os.chdir(cwd)
    before = _InOrder()
    before.pending, before.more = pickle.loads(row["before"])
    yield from before.drain()
    file, root = Path(os.fsdecode(row["file"])), Path(os.fsdecode(row["root"]))
    part = pickle.loads(row["part"])
    report = _InOrder()
    for article in read_file(file, root, report, options, part[0] if part else None):
        yield from report.drain()
        language = detect(article.title, article.text)
        yield {"item": pickle.dumps(replace(article, language=language))}
    yield from report.drain()
    yield {"item": pickle.dumps((report.files, report.articles, report.skip_count, part,
                                 printable(file)))}


class _ChunkAndEmbed:
    """One actor of the pool: the model loaded once, then batches of articles chunked and
    embedded, one block (articles, passages, vectors) a batch."""

    def __init__(self, model: str, precision: str, threads: int, gpu: bool, max_words: int,
                 overlap: int):
        self.embedder = Embedder(model, device=None if gpu else "cpu", precision=precision,
                                 threads=threads)
        self.embedder.load_passage_model()
        self.max_words, self.overlap = max_words, overlap

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        chunked = []
        for item in batch["item"]:
            article, story = pickle.loads(item)
            chunked.append((article, chunk_article(article, self.max_words, self.overlap), story))
        vectors = self.embedder.encode([embedding_text(a.title, p.text)
                                        for a, passages, _ in chunked for p in passages])
        block = (chunked, vectors, self.embedder.passage_precision)
        return {"block": np.array([pickle.dumps(block)], dtype=object)}


class RayCluster:
    """A Ray cluster joined (or, for LOCAL, started on this machine on 127.0.0.1), with the
    size of its embedding pool: `actors` actors (by default one a GPU, else one for every two
    CPUs of the cluster)."""

    def __init__(self, address: str = LOCAL, actors: int | None = None,
                 part_bytes: int = PART_BYTES):
        try:
            import ray
        except ImportError:
            raise IndexerError("--ray needs the cluster extra: pip install -e \".[cluster]\"") \
                from None
        _start(ray, address)
        from ray.data import DataContext

        context = DataContext.get_current()
        context.execution_options.preserve_order = True  # passages numbered as a local build's
        context.enable_progress_bars = False  # ours say it, a line a step
        logging.getLogger("ray.data").setLevel(logging.ERROR)  # its notes among our lines
        resources = ray.cluster_resources()
        self.gpus = int(resources.get("GPU", 0))
        cpus = int(resources.get("CPU", 1))
        room = self.gpus or cpus  # an actor takes a GPU, or at least a CPU
        if actors and actors > room:
            raise IndexerError(f"--actors {actors}: the Ray cluster has {cpus} CPUs and "
                               f"{self.gpus} GPUs, room for {room} actors (a GPU each, or at "
                               "least a CPU each); give fewer, or add nodes")
        # Batches go out once every actor has loaded the model: the first actor ready took
        # every batch of a small archive, and a node's actor none.
        context.wait_for_min_actors_s = ACTORS_READY_SECONDS
        self.actors = actors or self.gpus or max(1, cpus // 2)
        self.cpus_each = 1 if self.gpus else max(1, cpus // self.actors)
        self.precision = ""  # what the actors made: int8 on CPUs, float32 on GPUs
        self.part_bytes = part_bytes

    def items(self, paths: Iterable[Path], options: ReadOptions) -> tuple[list[dict], _InOrder]:
        """What the cluster's reading tasks read, numbered: each file, or part of a large JSON
        Lines file (readers.parts), with what listing skipped before it; the folders are listed
        here. And the listing's skips after the last file."""
        files, listing = [], _InOrder()  # what listing skips goes with the file after it
        for file, root in archive_files(paths, listing, options):
            cut = parts(file, self.part_bytes) or [None]
            files += [{"file": os.fsencode(file), "root": os.fsencode(root),
                       "before": pickle.dumps((listing.pending, listing.more) if i == 0
                                              else ([], 0)),
                       "part": pickle.dumps((part, i, len(cut)) if part else None),
                       "no": len(files) + i}
                      for i, part in enumerate(cut)]
            listing.pending, listing.more = [], 0
        return files, listing

    def read(self, paths: Iterable[Path], report: ReadReport,
             options: ReadOptions = ReadOptions()) -> Iterator[Article]:
        """read_archive's articles, in its order, each file (or part of a large JSON Lines
        file: readers.parts) read by a task on the cluster; the folders are listed here, and
        their skips reported here."""
        import ray

        files, listing = self.items(paths, options)
        if files:
            found = ray.data.from_items(files, override_num_blocks=len(files)).flat_map(
                _read, fn_kwargs={"options": options, "cwd": os.fsencode(os.getcwd())})
            yield from _reported(_rows(found, "reading the archive"), report)
        for skipped in listing.pending:  # after the last file
            report.skip(skipped.where, skipped.reason)
        report.skip_count += listing.more

    def blocks(self, todo: Sequence[tuple[Article, str]], max_words: int, overlap: int,
               model: str = DEFAULT_MODEL, precision: str = "int8",
               progress: Callable[[int], None] | None = None) -> Iterator[Block]:
        """(article, story) pairs chunked and embedded by the pool, as blocks in todo's order;
        progress(n) is told of the articles of each block."""
        import ray
        from ray.data import ActorPoolStrategy

        if not todo:
            return
        items = ray.data.from_items([{"item": pickle.dumps(pair)} for pair in todo])
        done = items.map_batches(
            _ChunkAndEmbed, batch_size=ARTICLES_A_BATCH, batch_format="numpy",
            fn_constructor_kwargs={"model": model, "precision": precision,
                                   "threads": self.cpus_each, "gpu": bool(self.gpus),
                                   "max_words": max_words, "overlap": overlap},
            compute=ActorPoolStrategy(size=self.actors), num_cpus=self.cpus_each,
            num_gpus=1 if self.gpus else 0)
        for row in _rows(done, "embedding"):
            chunked, vectors, self.precision = pickle.loads(row["block"])
            if progress:
                progress(len(chunked))
            yield chunked, vectors


def _reported(rows: Iterator[dict], report: ReadReport) -> Iterator[Article]:
    """The articles of _read's rows; what they say was skipped and read goes to report."""
    produced = skips = 0  # of the file read in parts so far
    for row in rows:
        item = pickle.loads(row["item"])
        if isinstance(item, Article):
            yield item
        elif isinstance(item, Skipped):
            report.skip(item.where, item.reason)
        elif isinstance(item, int):  # skips past those any report lists
            report.skip_count += item
        else:
            files, articles, skipped, part, where = item
            report.files += files
            report.articles += articles
            if part:  # a file read in parts is counted once, and judged on all its parts
                _, at, count = part
                produced, skips = produced + articles, skips + skipped
                if at == count - 1:
                    report.files += 1
                    if not produced and not skips:
                        report.skip(where, "holds no articles")
                    produced = skips = 0


def _rows(dataset, doing: str) -> Iterator[dict]:  # noqa: ANN001 - a ray.data.Dataset
    """The dataset's rows, in order; a failure on the cluster (a lost node, an actor out of
    memory) becomes one clear error."""
    from ray.exceptions import RayError

    try:
        yield from dataset.iter_rows()
    except RayError as exc:
        reason = str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else type(exc).__name__
        raise IndexerError(f"the Ray cluster failed while {doing} ({reason}): nothing was "
                           "changed; check the cluster (`ray status`) and run the build again"
                           ) from None


def _start(ray, address: str) -> None:  # noqa: ANN001 - the ray module
    """Join the Ray cluster at address, or start one of this machine on 127.0.0.1 (LOCAL)."""
    if ray.is_initialized():
        return
    # Ray's C++ core logs to this process's stderr, among our progress lines, a warning as an
    # "E" line about actor restarts that Ray Data's own actors draw; its logs on disk keep all.
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    # A local start can time out on a busy machine (Ray gives its agents seconds to start:
    # ray-project/ray#65983): it is tried once more.
    for _ in range(2 if address == LOCAL else 1):
        try:
            if address == LOCAL:  # no dashboard; Ray's servers listen on every address regardless
                ray.init(_node_ip_address="127.0.0.1", include_dashboard=False,
                         log_to_driver=False, configure_logging=False)
            else:
                ray.init(address=address, log_to_driver=False, configure_logging=False)
            return
        except Exception as exc:  # noqa: BLE001 - connection errors of several kinds
            failure = exc
            ray.shutdown()  # what the failed start left running
    raise IndexerError(f"cannot join the Ray cluster at {address} ({failure}): start it with "
                       "`ray start --head`, or give its address")


def stop_ray() -> None:
    """Leave the Ray cluster (a local one stops)."""
    import ray

    if ray.is_initialized():
        ray.shutdown()
