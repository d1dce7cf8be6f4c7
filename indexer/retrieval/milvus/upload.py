"""A complete local build copied into new Milvus collections, which take the alias once
whole."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from indexer.dates import passes_date_filters
from indexer.errors import IndexerError
from indexer.retrieval.milvus.client import (
    BATCH,
    EMPTY,
    KEEP_BUILDS,
    MAX_STRING,
    PROPERTY,
    TERMS,
    BackendUnavailableError,
    MilvusAddress,
    clip,
    connect,
    day_key,
    reason,
    served_collection,
    term_key,
)
from indexer.storage.manifest import Manifest


def _schemas(client: Any, dimension: int) -> dict[str, tuple[Any, Any]]:
    from pymilvus import DataType

    def text(schema, name, length=MAX_STRING * 4):
        schema.add_field(name, DataType.VARCHAR, max_length=length)

    passages = client.create_schema(auto_id=False, enable_dynamic_field=False)
    passages.add_field("pid", DataType.INT64, is_primary=True)
    passages.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
    passages.add_field("words", DataType.SPARSE_FLOAT_VECTOR)
    for name in ("article", "story", "day", "position", "start", "end", "copies"):
        passages.add_field(name, DataType.INT64)
    passages.add_field("dated", DataType.BOOL)
    for name in ("article_id", "date", "source_key", "language", "text"):
        text(passages, name)
    p_index = client.prepare_index_params()
    p_index.add_index("vector", index_type="FLAT", metric_type="IP")
    p_index.add_index("words", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")

    articles = client.create_schema(auto_id=False, enable_dynamic_field=False)
    articles.add_field("key", DataType.INT64, is_primary=True)
    articles.add_field("words", DataType.SPARSE_FLOAT_VECTOR)
    articles.add_field("pairs", DataType.SPARSE_FLOAT_VECTOR)
    articles.add_field("story", DataType.INT64)
    articles.add_field("dated", DataType.BOOL)
    for name in ("id", "title", "date", "source", "source_key", "url", "origin", "content_hash",
                 "language"):
        text(articles, name)
    a_index = client.prepare_index_params()
    a_index.add_index("words", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    a_index.add_index("pairs", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")

    texts = client.create_schema(auto_id=True, enable_dynamic_field=False)
    texts.add_field("row", DataType.INT64, is_primary=True)
    texts.add_field("article", DataType.INT64)
    texts.add_field("part", DataType.INT64)
    texts.add_field("placeholder", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants one vector
    text(texts, "text")
    t_index = client.prepare_index_params()
    t_index.add_index("placeholder", index_type="FLAT", metric_type="IP")

    terms = client.create_schema(auto_id=False, enable_dynamic_field=False)
    terms.add_field("term", DataType.INT64, is_primary=True)
    terms.add_field("passages", DataType.INT64)
    terms.add_field("placeholder", DataType.FLOAT_VECTOR, dim=2)
    r_index = client.prepare_index_params()
    r_index.add_index("placeholder", index_type="FLAT", metric_type="IP")
    return {"passages": (passages, p_index), "articles": (articles, a_index),
            "texts": (texts, t_index), "terms": (terms, r_index)}


def _by_document(ids: np.ndarray, data: Any, indices: Any, indptr: Any, keys: np.ndarray
                 ) -> dict[int, dict[int, float]]:
    """Each document's {term key: BM25 weight}, by document id, from column-major weights
    (column c: documents indices[indptr[c]:indptr[c+1]]) whose columns have these keys;
    columns that share a key are added, as the query's one dimension would add them."""
    from scipy.sparse import csc_matrix

    columns = len(indptr) - 1
    rows = csc_matrix((np.asarray(data), np.asarray(indices), np.asarray(indptr)),
                      shape=(len(ids), columns)).tocsr()
    out: dict[int, dict[int, float]] = {}
    for i, doc in enumerate(ids.tolist()):
        start, end = rows.indptr[i], rows.indptr[i + 1]
        weights: dict[int, float] = {}
        for key, value in zip(keys[rows.indices[start:end]].tolist(),
                              rows.data[start:end].tolist()):
            weights[key] = weights.get(key, 0.0) + value
        out[doc] = weights
    return out


def _term_weights(index: Any) -> dict[int, dict[int, float]]:
    """Each document's {term key: BM25 weight} of a bm25s keyword index, by document id."""
    if index.retriever is None:
        return {}
    scores = index.retriever.scores
    columns = len(scores["indptr"]) - 1
    keys = np.zeros(columns, dtype=np.int64)
    for term, column in index.retriever.vocab_dict.items():
        if column < columns:  # bm25s's own empty token has no column
            keys[column] = term_key(term)
    return _by_document(index.ids, scores["data"], scores["indices"], scores["indptr"], keys)


def upload(folder: Path, address: MilvusAddress, progress: bool = False) -> str:
    """Copy a complete local build folder (flat vectors) into new Milvus collections, then move
    the alias to them: the build served before keeps serving until then, and a failure leaves it
    served. The passages collection's name."""
    from indexer.retrieval.local import LocalBuild
    from indexer.storage.keywords import load_keyword_indexes

    client = connect(address)
    build = LocalBuild(folder, Manifest.read(folder).model)
    stamp = time.strftime("%Y%m%dT%H%M%S") + f"{time.time_ns() % 1_000_000_000:09d}"
    base = f"{address.name}__{stamp}"
    names = {kind: f"{base}__{kind}" for kind in ("passages", "articles", "texts", "terms")}
    try:
        for kind, (schema, index) in _schemas(client, build.manifest.dimension).items():
            client.create_collection(names[kind], schema=schema, index_params=index)
        words, article_words, phrases = load_keyword_indexes(folder)
        articles = build.meta.article_rows()
        story_of = _stories(articles)
        _write_articles(client, names, articles, story_of, _term_weights(article_words),
                        _phrase_weights(phrases))
        passage_weights = _term_weights(words)
        _write_terms(client, names["terms"], passage_weights)
        _write_passages(client, names["passages"], build, articles, story_of, passage_weights,
                        progress)
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
    _drop_old_builds(client, address)
    return names["passages"]


def _stories(articles: list[tuple]) -> dict[int, int]:
    """Each article's story, as the key of the story's first article, by article key."""
    key_of = {row[1]: row[0] for row in articles}
    return {row[0]: key_of.get(row[9], row[0]) for row in articles}


def _write_articles(client: Any, names: dict[str, str], articles: list[tuple],
                    story_of: dict[int, int], article_weights: dict, pair_weights: dict) -> None:
    """The articles' rows, with their BM25 weights and phrases, and their texts in parts."""
    rows, texts = [], []
    for rowid, aid, title, text, date, source, url, origin, chash, story, lang in articles:
        rows.append({"key": rowid, "id": aid, "title": clip(title), "date": clip(date),
                     "language": lang,
                     "source": clip(source), "source_key": clip(source.lower()),
                     "url": clip(url), "origin": clip(origin), "content_hash": chash,
                     "story": story_of[rowid], "dated": passes_date_filters(date),
                     "words": article_weights.get(rowid) or EMPTY,
                     "pairs": pair_weights.get(rowid) or EMPTY})
        texts.extend({"article": rowid, "part": part, "text": text[at:at + MAX_STRING],
                      "placeholder": [0.0, 0.0]}
                     for part, at in enumerate(range(0, max(len(text), 1), MAX_STRING)))
    _insert(client, names["articles"], rows)
    _insert(client, names["texts"], texts)


def _write_terms(client: Any, name: str, passage_weights: dict[int, dict]) -> None:
    """How many passages hold each term."""
    held: dict[int, int] = {}
    for weights in passage_weights.values():
        for key in weights:
            held[key] = held.get(key, 0) + 1
    _insert(client, name, [{"term": k, "passages": n, "placeholder": [0.0, 0.0]}
                           for k, n in held.items()])


def _write_passages(client: Any, name: str, build: Any, articles: list[tuple],
                    story_of: dict[int, int], passage_weights: dict[int, dict],
                    progress: bool) -> None:
    """The passages with their vectors, BM25 weights and their articles' fields, BATCH a time."""
    from indexer.progress import progress_bar

    story_size: dict[int, int] = {}
    for key in story_of.values():
        story_size[key] = story_size.get(key, 0) + 1
    about = {row[0]: row for row in articles}  # key -> (key, id, _, _, date, source, ..., lang)
    passages = build.meta.passage_rows()
    bar = progress_bar(total=len(passages), desc="Passages to Milvus", unit=" passages",
                       disable=not progress, leave=False)
    for at in range(0, len(passages), BATCH):
        block = passages[at:at + BATCH]
        vectors = build.vectors(np.array([p[0] for p in block], dtype=np.int64))
        _insert(client, name, [
            {"pid": pid, "vector": vector.tolist(),
             "words": passage_weights.get(pid) or EMPTY, "article": rowid,
             "story": story_of[rowid], "day": day_key(about[rowid][4]), "position": position,
             "start": start, "end": end, "copies": story_size[story_of[rowid]] - 1,
             "dated": passes_date_filters(about[rowid][4]), "article_id": about[rowid][1],
             "date": clip(about[rowid][4]), "source_key": clip(about[rowid][5].lower()),
             "language": about[rowid][10],
             "text": clip(text)}
            for (pid, rowid, position, start, end, text), vector in zip(block, vectors)])
        bar.update(len(block))
    bar.close()


def _publish(client: Any, address: MilvusAddress, names: dict[str, str], build: Any) -> None:
    """What the searcher reads of the build (its manifest, outlets, languages, dates) on the
    passages collection; every collection flushed and loaded; then the alias moved to it."""
    held = {"manifest": asdict(build.manifest), "sources": build.sources,
            "languages": build.languages,
            "newest": None if build.newest != build.newest else build.newest,
            "oldest": None if build.oldest != build.oldest else build.oldest}
    client.alter_collection_properties(names["passages"],
                                       properties={PROPERTY: json.dumps(held)})
    for name in names.values():
        client.flush(name)
        client.load_collection(name)
    _move_alias(client, address, names["passages"])


def _phrase_weights(phrases: Any) -> dict[int, dict[int, float]]:
    """Each article's {phrase key: BM25 weight} of the phrase index, by article key."""
    if not len(phrases.keys):
        return {}
    keys = np.zeros(len(phrases.indptr) - 1, dtype=np.int64)
    keys[np.asarray(phrases.columns)] = (np.asarray(phrases.keys)
                                         % np.uint64(TERMS)).astype(np.int64)
    return _by_document(phrases.ids, phrases.data, phrases.indices, phrases.indptr, keys)


def _insert(client: Any, collection: str, rows: list[dict]) -> None:
    for at in range(0, len(rows), BATCH):
        client.insert(collection, rows[at:at + BATCH])


def _move_alias(client: Any, address: MilvusAddress, collection: str) -> None:
    if served_collection(client, address) is None:
        client.create_alias(collection, address.name)
    else:
        client.alter_alias(collection, address.name)


def _drop(client: Any, names: Iterable[str]) -> None:
    for name in names:
        try:
            client.drop_collection(name)
        except Exception:  # noqa: BLE001, S110 - best effort: a half-made build is unnamed
            pass


def _drop_old_builds(client: Any, address: MilvusAddress) -> None:
    """Drop the builds of this name but the newest KEEP_BUILDS (the served one is the newest)."""
    prefix = f"{address.name}__"
    stamps = sorted({n[len(prefix):].split("__")[0] for n in client.list_collections()
                     if n.startswith(prefix)}, reverse=True)
    for stamp in stamps[KEEP_BUILDS:]:
        _drop(client, [f"{prefix}{stamp}__{kind}"
                       for kind in ("passages", "articles", "texts", "terms")])
