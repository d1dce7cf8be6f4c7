"""What a build finds across its articles once they are written: their sentences and leads,
languages, threads, and entities."""

from __future__ import annotations

from typing import Callable

import numpy as np

from indexer.analysis import language
from indexer.analysis.entities import SAMPLE_CHARS, find
from indexer.analysis.entity_names import resolve
from indexer.analysis.threads import thread_ids
from indexer.chunking import Layout
from indexer.dates import day_number
from indexer.progress import progress_bar
from indexer.storage.database_writer import MetadataWriter
from indexer.terms import analyse


def find_languages_and_sentences(meta: MetadataWriter) -> int:
    """Find and store the language (those a cluster's workers found are stored with their
    articles) and the sentences and lead (chunking.Layout: what a search shows is cut from
    them) of every article that lacks them, each text read once: how many were looked at."""
    todo = meta.unfinished()
    meta.set_languages([(language.detect(title, text), rowid)
                        for rowid, title, text, unknown, _ in todo if unknown])
    meta.set_layouts([(rowid, Layout.of(text)) for rowid, _, text, _, unsplit in todo if unsplit])
    return len(todo)


def find_threads(meta: MetadataWriter, vectors: Callable[[np.ndarray], np.ndarray]) -> int:
    """Link the stories into threads (analysis/threads.py), by their first articles' first
    passages (vectors: the stored vectors of passage ids), and store each article's thread.
    How many threads hold more than one story."""
    rows, heads = meta.thread_heads()
    if not heads:
        meta.set_threads([])
        return 0
    days = np.array([day_number(r[3]) for r in heads])
    leads = vectors(np.array([r[4] for r in heads], dtype=np.int64)).astype(np.float32)
    leads /= np.maximum(np.linalg.norm(leads, axis=1, keepdims=True), 1e-12)
    threads = thread_ids(days, leads, [frozenset(analyse(f"{r[5]}\n{r[6]}")) for r in heads])
    thread_of = {r[2]: heads[t][0] for r, t in zip(heads, threads)}  # story -> thread
    meta.set_threads([(r[0], thread_of.get(r[2], r[0])) for r in rows])
    return int(np.sum(np.bincount(threads) > 1))


def find_entities(meta: MetadataWriter, progress: bool = False) -> int:
    """Find and store the entities of every article that has none yet, then resolve the
    names of all of them across the archive (entity_names.py): how many were read."""
    todo = meta.without_entities(SAMPLE_CHARS)
    bar = progress_bar(total=len(todo), desc="Entities", unit=" articles", disable=not progress)
    try:
        for (rowid, _, _), found in zip(todo, find([(t, x) for _, t, x in todo])):
            meta.add_entities(rowid, found)
            bar.update(1)
    finally:
        bar.close()
    meta.set_entity_names(resolve(meta.entity_mentions()))
    return len(todo)
