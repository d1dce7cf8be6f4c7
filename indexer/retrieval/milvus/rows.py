"""A local build's articles and passages as Milvus rows (schema.py): what a full copy writes,
and what an update writes of the articles it touches."""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable, Iterator

import numpy as np

from indexer.retrieval.milvus.client import (BATCH, clip, date_key, day_key, parts,
                                             term_number, tokens)
from indexer.terms import analyse, phrases

ARTICLE_FIELDS = ("key", "id", "title", "text", "date", "source", "url", "origin",
                  "content_hash", "story", "language")  # MetadataReader.article_rows' order


def passage_words(title: str, text: str) -> str:
    """What keyword search reads of a passage (MetadataWriter.keyword_documents): its headline
    and text; a headline-only article's one passage is its headline."""
    return title if text == title else f"{title}\n{text}"


def article_row(key: int, a: dict, story: int, lead: np.ndarray) -> dict:
    """An article's row (a: its fields, as ARTICLE_FIELDS name them), in the story with this
    key, with its lead passage's vector."""
    words = f"{a['title']}\n{a['text']}"
    return {"key": key, "id": a["id"], "title": clip(a["title"]), "date": clip(a["date"]),
            "source": clip(a["source"]), "source_key": clip(a["source"].lower()),
            "url": clip(a["url"]), "origin": clip(a["origin"]), "content_hash": a["content_hash"],
            "language": a["language"], "story": story, "day": day_key(a["date"]),
            "date_key": date_key(a["date"]), "lead": np.asarray(lead).tolist(),
            "terms": tokens(analyse(words)), "pair_terms": tokens(phrases(words))}


def text_rows(key: int, text: str) -> list[dict]:
    """An article's text in parts of MAX_STRING characters (client.parts)."""
    return [{"article": key, "part": part, "text": piece, "placeholder": [0.0, 0.0]}
            for part, piece in enumerate(parts(text))]


def passage_row(passage: tuple, vector: np.ndarray, a: dict, story: int, copies: int
                ) -> tuple[dict, set[int]]:
    """A passage's row ((id, article key, position, start, end, text), its vector, its
    article's fields, story and copies) and the numbers of the terms it holds."""
    pid, key, position, start, end, text = passage
    terms = analyse(passage_words(a["title"], text))
    return ({"pid": pid, "vector": np.asarray(vector).tolist(), "terms": tokens(terms),
             "article": key, "story": story, "day": day_key(a["date"]),
             "date_key": date_key(a["date"]), "position": position, "start": start, "end": end,
             "copies": copies, "article_id": a["id"], "source_key": clip(a["source"].lower()),
             "language": a["language"], "text": clip(text), "title": clip(a["title"]),
             "date": clip(a["date"]), "source": clip(a["source"]), "url": clip(a["url"]),
             "origin": clip(a["origin"])}, set(map(term_number, terms)))


class Rows:
    """The rows of a local build (an opened LocalBuild): of all its articles, or of those with
    these keys (row ids) alone, read from its database only for them."""

    def __init__(self, build: Any, keys: Iterable[int] | None = None):
        self.build = build
        keys = None if keys is None else sorted(keys)
        self.stories = build.meta.story_rows()  # key -> (id, content hash, story key, size)
        self.articles = {row[0]: dict(zip(ARTICLE_FIELDS, row))
                         for row in build.meta.article_rows(keys)}
        # (id, article key, position, start, end, text), by id
        self.passage_rows = build.meta.passage_rows(keys)
        # A story is known in Milvus by the key of its first article (its story id's).
        self.story = {key: about[2] for key, about in self.stories.items()}

    def copies(self, key: int) -> int:
        """How many other articles the article's story holds."""
        return self.stories[key][3] - 1

    def article_rows(self, keys: Iterable[int]) -> tuple[list[dict], list[dict]]:
        """The articles' rows, with their lead vectors, and their texts' rows in parts."""
        keys = list(keys)
        leads = self.build.lead_vectors(np.array(keys, dtype=np.int64)) if keys else []
        rows, texts = [], []
        for key, lead in zip(keys, leads):
            rows.append(article_row(key, self.articles[key], self.story[key], lead))
            texts.extend(text_rows(key, self.articles[key]["text"]))
        return rows, texts

    def passage_blocks(self) -> Iterator[tuple[list[dict], Counter]]:
        """The passages' rows, BATCH a block, with how many of the block's passages hold each
        term (by term number)."""
        for at in range(0, len(self.passage_rows), BATCH):
            block = self.passage_rows[at:at + BATCH]
            vectors = self.build.vectors(np.array([p[0] for p in block], dtype=np.int64))
            rows, held = [], Counter()
            for passage, vector in zip(block, vectors):
                key = passage[1]
                row, terms = passage_row(passage, vector, self.articles[key], self.story[key],
                                         self.copies(key))
                rows.append(row)
                held.update(terms)
            yield rows, held

    def held(self) -> Counter:
        """How many of the passages hold each term (by term number)."""
        held: Counter = Counter()
        for pid, key, _, _, _, text in self.passage_rows:
            held.update(set(map(term_number, analyse(passage_words(self.articles[key]["title"],
                                                                   text)))))
        return held
