"""Building an index folder from an archive: read, chunk, embed, store, then swap in whole."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm import tqdm

from .articles import Article
from .chunking import DEFAULT_MAX_WORDS, DEFAULT_OVERLAP, chunk_article, embedding_text
from .embedding import DEFAULT_MODEL, Embedder
from .errors import EmptyArchiveError
from .indexdir import build_lock, publish, staging_folder
from .manifest import Manifest
from .metadata import MetadataWriter
from .readers import ReadReport, read_archive
from .store import FaissStore
from .stories import story_ids

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


def read_unique(paths: Sequence[Path], report: ReadReport, progress: bool = False) -> list[Article]:
    """The archive's articles, the first of each id kept; later duplicates are reported skipped."""
    seen: dict[str, str] = {}
    articles: list[Article] = []
    bar = tqdm(desc="Reading", unit=" articles", disable=not progress, leave=False)
    for article in read_archive(paths, report):
        bar.update(1)
        if article.id in seen:
            report.articles -= 1
            report.skip(article.origin, f"duplicate article id '{article.id}' (first read from "
                        f"{seen[article.id]}): ids must be unique; the first was indexed")
            continue
        seen[article.id] = article.origin
        articles.append(article)
    bar.close()
    return articles


def build_index(paths: Sequence[Path], index_dir: Path, model: str = DEFAULT_MODEL,
                max_words: int = DEFAULT_MAX_WORDS, overlap: int = DEFAULT_OVERLAP,
                embedder: Embedder | None = None, progress: bool = False,
                batch_size: int = 32) -> BuildResult:
    """Build a new index of the archive at paths and make it the one index_dir serves.

    The index being served stays untouched until the new one is complete: a failure or an
    interrupt at any point leaves it as it was.
    """
    started = time.perf_counter()
    index_dir = Path(index_dir)
    with build_lock(index_dir):
        report = ReadReport()
        articles = read_unique([Path(p) for p in paths], report, progress)
        read_seconds = time.perf_counter() - started
        if not articles:
            raise EmptyArchiveError(
                f"no articles found in {', '.join(map(str, paths))} ({report.files} files read, "
                f"{len(report.skipped)} skipped): nothing was changed in {index_dir}")
        stories = story_ids(articles, progress)
        embedder = embedder or Embedder(model)
        chunked = [(a, chunk_article(a, max_words, overlap), story)
                   for a, story in zip(articles, stories)]
        total = sum(len(p) for _, p, _ in chunked)
        with staging_folder(index_dir) as staged:
            embed_started = time.perf_counter()
            _write(staged, chunked, total, embedder, progress, batch_size)
            embed_seconds = time.perf_counter() - embed_started
            manifest = Manifest(
                model=embedder.name, dimension=embedder.dimension, max_words=max_words,
                overlap=overlap, articles=len(articles), passages=total,
                built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                build_seconds=round(time.perf_counter() - started, 3),
                sources=[str(Path(p).resolve()) for p in paths], skipped=len(report.skipped))
            manifest.write(staged)
            folder = publish(index_dir, staged)
    return BuildResult(folder, manifest, report, read_seconds, embed_seconds)


def _write(folder: Path, chunked: list, total: int, embedder: Embedder, progress: bool,
           batch_size: int) -> None:
    store = FaissStore(embedder.dimension)
    meta = MetadataWriter(folder)
    bar = tqdm(total=total, desc="Embedding", unit=" passages", disable=not progress,
               smoothing=0.1)
    next_id = 0
    block: list[tuple[Article, list, str]] = []
    block_size = 0

    def flush() -> None:
        nonlocal next_id, block, block_size
        texts = [embedding_text(a.title, p.text) for a, ps, _ in block for p in ps]
        vectors = embedder.encode(texts, batch_size=batch_size, progress=bar.update)
        store.add(vectors, np.arange(next_id, next_id + len(texts), dtype=np.int64))
        for article, passages, story in block:
            meta.add(article, passages, next_id, story)
            next_id += len(passages)
        block, block_size = [], 0

    try:
        for article, passages, story in chunked:
            block.append((article, passages, story))
            block_size += len(passages)
            if block_size >= EMBED_BLOCK:
                flush()
        if block:
            flush()
    finally:
        bar.close()
        meta.close()
    store.save(folder)
