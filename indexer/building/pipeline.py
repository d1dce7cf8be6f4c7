"""Building an index folder from an archive: read, chunk, embed, store, then swap in whole."""

from __future__ import annotations

import shutil
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np

from indexer.analysis.stories import story_ids
from indexer.articles import Article, printable
from indexer.building.analyses import find_entities, find_languages_and_sentences, find_threads
from indexer.chunking import DEFAULT_MAX_WORDS, DEFAULT_OVERLAP, chunk_article, embedding_text
from indexer.embedding.embedder import DEFAULT_MODEL, Embedder
from indexer.embedding.onnx_query import DEFAULT_PRECISION, check_precision
from indexer.errors import EmptyArchiveError, IndexerError
from indexer.progress import progress_bar, say
from indexer.reading.readers import read_archive
from indexer.reading.report import ReadOptions, ReadReport
from indexer.storage.database_writer import MetadataWriter
from indexer.storage.indexdir import build_lock, current_build, publish, staging_folder
from indexer.storage.keywords import write_keyword_indexes
from indexer.storage.manifest import Manifest
from indexer.storage.vectors import IVF_SQ8, FaissStore, choose_kind

if TYPE_CHECKING:
    from indexer.building.ray_cluster import RayCluster

EMBED_BLOCK = 1024  # passages embedded and written at a time: bounds memory on big archives


@dataclass
class BuildResult:
    """What a build read, skipped and made, and how long each step took."""

    folder: Path
    manifest: Manifest
    report: ReadReport
    read_seconds: float
    embed_seconds: float

    @property
    def passages_per_second(self) -> float:
        """Passages embedded and stored per second of the embedding step."""
        return self.manifest.passages / self.embed_seconds if self.embed_seconds else 0.0


def read_unique(paths: Sequence[Path], report: ReadReport, progress: bool = False,
                options: ReadOptions = ReadOptions(), read: Callable = read_archive
                ) -> list[Article]:
    """The archive's articles, the first of each id kept; later duplicates are reported skipped.
    read: read_archive, or a RayCluster's read (the files read on the cluster)."""
    seen: dict[str, str] = {}
    articles: list[Article] = []
    with progress_bar(desc="Reading", unit=" articles", disable=not progress,
                      leave=False) as bar:
        for article in read(paths, report, options):
            bar.update(1)
            if article.id in seen:
                report.articles -= 1
                report.skip(article.origin, f"duplicate article id '{article.id}' (first read "
                            f"from {seen[article.id]}): ids must be unique; the first was indexed")
                continue
            seen[article.id] = article.origin
            articles.append(article)
    return articles


@contextmanager
def _write_errors(index_dir: Path) -> Iterator[None]:
    """Turn a failed write of the new build (a full disk, a read-only folder) into one clear
    error; the staging folder is removed and the served index is left as it was."""
    try:
        yield
    except (OSError, sqlite3.Error, RuntimeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc).strip().splitlines()[-1]
        raise IndexerError(f"cannot write the new index in {index_dir} ({reason}): is the disk "
                           "full or the folder read-only? The index served is unchanged") from exc


def _read_or_refuse(paths: Sequence[Path], index_dir: Path, progress: bool,
                    options: ReadOptions, cluster: RayCluster | None
                    ) -> tuple[list[Article], ReadReport]:
    """The archive's articles and the report of reading it (here, or on the cluster);
    EmptyArchiveError if there are none."""
    report = ReadReport()
    articles = read_unique([Path(p) for p in paths], report, progress, options,
                           cluster.read if cluster else read_archive)
    if not articles:
        first = f"; the first: {report.skipped[0].where}: {report.skipped[0].reason}" \
            if report.skipped else ""
        raise EmptyArchiveError(
            f"no articles found in {', '.join(map(printable, paths))} ({report.files} files "
            f"read, {report.skip_count} skipped{first}): nothing was changed in {index_dir}")
    return articles, report


def build_index(paths: Sequence[Path], index_dir: Path, model: str = DEFAULT_MODEL,
                max_words: int = DEFAULT_MAX_WORDS, overlap: int = DEFAULT_OVERLAP,
                embedder: Embedder | None = None, progress: bool = False,
                batch_size: int = 32, store_kind: str = "auto", nprobe: int | None = None,
                precision: str = DEFAULT_PRECISION,
                read_options: ReadOptions = ReadOptions(), entities: bool = False,
                cluster: RayCluster | None = None) -> BuildResult:
    """Build a new index of the archive at paths and make it the one index_dir serves.

    store_kind: auto (exact below AUTO_IVF_FROM passages, approximate above), flat or ivf-sq8;
    nprobe: the cells an ivf-sq8 store searches (default: by how many it has); precision: of the
    passage vectors, int8 or float32; read_options: links and size limits of the archive;
    entities: find the people, organisations and places each article names (entities.py);
    cluster: read, chunk and embed on a Ray cluster (ray_cluster.py) instead of here. The
    index being served stays untouched until the new one is complete: a failure or an interrupt
    at any point leaves it as it was.
    """
    _entities_ready(entities)  # a missing pipeline is refused before anything is read
    choose_kind(store_kind, 0)  # a wrong kind is refused before anything is read
    check_precision(precision)
    started = time.perf_counter()
    index_dir = Path(index_dir)
    with build_lock(index_dir):
        articles, report = _read_or_refuse(paths, index_dir, progress, read_options, cluster)
        read_seconds = time.perf_counter() - started
        stories = story_ids(articles, progress)
        embedder = _loaded(embedder or Embedder(model, precision=precision), progress)
        with staging_folder(index_dir) as staged, _write_errors(index_dir):
            embed_started = time.perf_counter()
            store = FaissStore(embedder.dimension)
            meta = MetadataWriter(staged)
            try:
                made = _embed_into(meta, store, list(zip(articles, stories)), 0, embedder,
                                   progress, batch_size, (max_words, overlap), cluster)
                _analyse(meta, store, staged, entities, progress)
            finally:
                meta.close()
            store = _finish_store(store, store_kind, nprobe, progress)
            store.save(staged)
            embed_seconds = time.perf_counter() - embed_started
            manifest = _manifest(
                started, paths, report, store, model=embedder.name, dimension=embedder.dimension,
                max_words=max_words, overlap=overlap, articles=len(articles),
                passages=len(store), store_choice=store_kind, precision=made, entities=entities)
            folder = _publish(index_dir, staged, manifest)
    return BuildResult(folder, manifest, report, read_seconds, embed_seconds)


def update_index(paths: Sequence[Path], index_dir: Path, model: str = DEFAULT_MODEL,
                 embedder: Embedder | None = None, progress: bool = False,
                 batch_size: int = 32, store_kind: str | None = None, nprobe: int | None = None,
                 precision: str | None = None,
                 read_options: ReadOptions = ReadOptions(),
                 entities: bool | None = None,
                 cluster: RayCluster | None = None) -> BuildResult:
    """Bring the served index in line with the archive at paths: embed new and changed articles
    (by content hash), drop those no longer there, keep the rest. Store kind, nprobe and
    precision stay as built unless given ("auto" turns approximate past AUTO_IVF_FROM
    passages); entities: as built unless True. On a copy of the served build, swapped in whole
    when complete: a failure or an interrupt leaves the served index untouched."""
    started = time.perf_counter()
    index_dir = Path(index_dir)
    with build_lock(index_dir):
        current = current_build(index_dir)
        old = Manifest.read(current, upgrading=True)
        old.check_model(model, current)
        store_kind, precision, entities = _as_built(old, store_kind, precision, entities)
        articles, report = _read_or_refuse(paths, index_dir, progress, read_options, cluster)
        read_seconds = time.perf_counter() - started
        stories = dict(zip((a.id for a in articles), story_ids(articles, progress)))
        with staging_folder(index_dir) as staged, _write_errors(index_dir):
            _copy_build(current, staged)
            meta = MetadataWriter(staged, create=False)
            try:
                existing = meta.existing()
                gone, changed, added = _changes(existing, articles)
                store = FaissStore.load(staged, old.dimension)
                store.remove(np.array(meta.remove(
                    [existing[aid][0] for aid in gone] + [existing[a.id][0] for a in changed]),
                    dtype=np.int64))
                embed_started = time.perf_counter()
                todo = [(a, stories[a.id]) for a in _in_order(articles, changed, added)]
                now = old.precision
                if todo:
                    embedder = embedder or Embedder(model, precision=precision)
                    embedder.load_passage_model()  # as in build_index
                    embed_started = time.perf_counter()
                    new = _embed_into(meta, store, todo, meta.next_passage_id(), embedder,
                                      progress, batch_size, (old.max_words, old.overlap), cluster)
                    kept = len(existing) > len(gone) + len(changed)
                    now = new if not kept or new == old.precision else "mixed"
                embed_seconds = time.perf_counter() - embed_started
                meta.set_stories(stories)
                _analyse(meta, store, staged, entities, progress)
                passages = meta.passage_count()
            finally:
                meta.close()
            nprobe = store.index.nprobe if nprobe is None and store.kind == IVF_SQ8 else nprobe
            store = _finish_store(store, store_kind, nprobe, progress)
            store.save(staged)
            manifest = _manifest(
                started, paths, report, store, model=old.model, dimension=old.dimension,
                max_words=old.max_words, overlap=old.overlap, articles=len(articles),
                passages=passages, store_choice=store_kind, precision=now, entities=entities,
                updated={"added": len(added), "changed": len(changed), "removed": len(gone)})
            folder = _publish(index_dir, staged, manifest)
    return BuildResult(folder, manifest, report, read_seconds, embed_seconds)


def _as_built(old: Manifest, store_kind: str | None, precision: str | None,
              entities: bool | None) -> tuple[str, str, bool]:
    """An update's store kind, precision and entities: as the build was made, unless given
    (checked before anything is read). nprobe too stays as built (update_index)."""
    store_kind = store_kind or old.store_choice
    choose_kind(store_kind, 0)
    precision = check_precision(precision) if precision is not None else \
        ("int8" if old.precision == "int8" else "float32")
    return store_kind, precision, _entities_ready(bool(entities) or old.entities)


def _in_order(articles: Sequence[Article], changed: list[Article], added: list[Article]
              ) -> list[Article]:
    """The articles to embed (changed and added), in the archive's order."""
    redo = {a.id for a in changed} | {a.id for a in added}
    return [a for a in articles if a.id in redo]


def _entities_ready(entities: bool) -> bool:
    """entities, once spaCy's pipeline is known to load when they are asked for."""
    if entities:
        from indexer.analysis.entities import _pipeline

        _pipeline()
    return entities


def _copy_build(current: Path, staged: Path) -> None:
    """The served build's files into a staging folder, for an update to change."""
    for file in current.iterdir():  # the keyword indexes are rebuilt, not copied
        if file.is_file():
            shutil.copy2(file, staged / file.name)


def _loaded(embedder: Embedder, progress: bool) -> Embedder:
    """The embedder with its passage model loaded (the first time: exported and quantised),
    before the clock and the progress bar start, so that both show embedding's own rate."""
    if progress:
        first = "" if embedder.questions_prepared() else (
            " (on first use it is exported to ONNX and quantised, for passages and for "
            "questions: about 20 s more)")
        say(f"Loading the model {embedder.name}{first}")
    embedder.load_passage_model()
    if embedder.passage_precision == "int8" and not embedder.questions_prepared():
        embedder.prepare_questions()  # made now, while torch may be loaded anyway
    return embedder


def _changes(existing: dict[str, tuple[int, str]], articles: Sequence[Article]
             ) -> tuple[list[str], list[Article], list[Article]]:
    """(ids gone from the archive, articles changed, articles added) against the build's."""
    fresh = {a.id for a in articles}
    gone = [aid for aid in existing if aid not in fresh]
    changed = [a for a in articles if a.id in existing and existing[a.id][1] != a.content_hash]
    added = [a for a in articles if a.id not in existing]
    return gone, changed, added


def _analyse(meta: MetadataWriter, store: FaissStore, staged: Path, entities: bool,
             progress: bool) -> None:
    """The stages after embedding, for a build and an update alike: sentences and leads,
    languages, entities (when asked), threads, and the keyword indexes."""
    find_languages_and_sentences(meta)
    if entities:
        find_entities(meta, progress)
    find_threads(meta, store.vectors)
    write_keyword_indexes(staged, *meta.keyword_documents(), progress=progress)


def _manifest(started: float, paths: Sequence[Path], report: ReadReport, store: FaissStore,
              **fields: Any) -> Manifest:
    """The manifest of a build finished now, from when it started and what it read."""
    return Manifest(built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    build_seconds=round(time.perf_counter() - started, 3),
                    sources=[printable(Path(p).resolve()) for p in paths],
                    skipped=report.skip_count, store=store.description, **fields)


def _publish(index_dir: Path, staged: Path, manifest: Manifest) -> Path:
    """Write the manifest into the staged build and make it the one served."""
    manifest.write(staged)
    return publish(index_dir, staged)


def _finish_store(store: FaissStore, store_kind: str, nprobe: int | None, progress: bool
                  ) -> FaissStore:
    """The store in the kind asked for (by size for auto), trained if it must be."""
    kind = choose_kind(store_kind, len(store))
    if kind != store.kind and progress:
        say(f"Building the {kind} vector index of {len(store)} passages")
    return store.converted(kind, nprobe)


def _embed_into(meta: MetadataWriter, store: FaissStore, todo: list[tuple[Article, str]],
                first_id: int, embedder: Embedder, progress: bool, batch_size: int,
                chunking: tuple[int, int], cluster: RayCluster | None) -> str:
    """Chunk (max words, overlap: chunking) and embed the (article, story) pairs, here or on the
    cluster, and store them, passages numbered from first_id, a block at a time. Returns the
    vectors' precision."""
    if cluster is None:
        chunked = [(a, chunk_article(a, *chunking), story) for a, story in todo]
        bar = progress_bar(total=sum(len(p) for _, p, _ in chunked), desc="Embedding",
                           unit=" passages", disable=not progress, smoothing=0.1)
        blocks = _blocks(chunked, embedder, batch_size, bar.update)
    else:
        bar = progress_bar(total=len(todo), desc="Embedding on Ray", unit=" articles",
                           disable=not progress, smoothing=0.1)
        blocks = cluster.blocks(todo, *chunking, embedder.name, embedder.precision, bar.update)
    next_id = first_id
    try:
        for block, vectors in blocks:
            store.add(vectors, np.arange(next_id, next_id + len(vectors), dtype=np.int64))
            for article, passages, story in block:
                meta.add(article, passages, next_id, story)
                next_id += len(passages)
    finally:
        bar.close()
    return cluster.precision if cluster else embedder.passage_precision


def _blocks(chunked: list, embedder: Embedder, batch_size: int, progress: Callable[[int], None]
            ) -> Iterator[tuple[list, np.ndarray]]:
    """(article, passages, story) triples embedded here, EMBED_BLOCK passages or so at a time
    (bounding memory on big archives), with their vectors."""
    block: list[tuple[Article, list, str]] = []
    size = 0
    for i, (article, passages, story) in enumerate(chunked):
        block.append((article, passages, story))
        size += len(passages)
        if size >= EMBED_BLOCK or i == len(chunked) - 1:
            texts = [embedding_text(a.title, p.text) for a, ps, _ in block for p in ps]
            yield block, embedder.encode(texts, batch_size=batch_size, progress=progress)
            block, size = [], 0
