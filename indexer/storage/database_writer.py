"""A build's SQLite database written: articles, passages, stories, threads, entities and
languages (found by the build, building/analyses.py), visible to readers only once the build
folder is swapped in."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Sequence

from indexer.articles import Article
from indexer.chunking import Layout, Passage
from indexer.storage import schema
from indexer.storage.schema import DB_NAME, has_table


class MetadataWriter:
    """Writes a database in a staging folder (a new one, or a copy of the served one to update);
    nothing is visible to readers until the folder is swapped in."""

    def __init__(self, folder: Path, create: bool = True):
        self.conn = sqlite3.connect(folder / DB_NAME)
        self.conn.execute("PRAGMA journal_mode=OFF")  # a failed build throws the file away
        self.conn.execute("PRAGMA synchronous=OFF")
        if create:
            schema.create(self.conn)
        else:
            schema.upgrade(self.conn, folder)

    def unfinished(self) -> list[tuple[int, str, str, bool, bool]]:
        """(rowid, title, text, whether its language is missing, whether its sentences are) of
        each article whose language or sentences were not found yet (added without them, or
        stored before they were): one read of their texts for both."""
        return self.conn.execute(
            "SELECT rowid, title, text, language IS NULL, sentences IS NULL FROM articles"
            " WHERE language IS NULL OR sentences IS NULL ORDER BY rowid").fetchall()

    def set_layouts(self, found: Sequence[tuple[int, Layout]]) -> None:
        """Store the articles' layouts: (rowid, layout) pairs."""
        self.conn.executemany(
            "UPDATE articles SET sentences = ?, lead_end = ?, lead_words = ? WHERE rowid = ?",
            [(layout.packed(), layout.lead_end, layout.lead_words, rowid)
             for rowid, layout in found])

    def set_languages(self, found: Sequence[tuple[str, int]]) -> None:
        """Store the languages found: (language, article rowid) pairs."""
        self.conn.executemany("UPDATE articles SET language = ? WHERE rowid = ?", found)

    def existing(self) -> dict[str, tuple[int, str]]:
        """Every stored article's id with its row id and content hash."""
        return {aid: (rowid, digest) for rowid, aid, digest in
                self.conn.execute("SELECT rowid, id, content_hash FROM articles")}

    def remove(self, rowids: Sequence[int]) -> list[int]:
        """Delete these articles and their passages; the passage ids."""
        removed: list[int] = []
        for rowid in rowids:
            removed.extend(pid for (pid,) in self.conn.execute(
                "SELECT id FROM passages WHERE article_rowid = ?", (rowid,)))
            self.conn.execute("DELETE FROM passages WHERE article_rowid = ?", (rowid,))
            self.conn.execute("DELETE FROM articles WHERE rowid = ?", (rowid,))
            if self._has_entities():
                self.conn.execute("DELETE FROM entities WHERE article_rowid = ?", (rowid,))
                self.conn.execute("DELETE FROM entities_done WHERE article_rowid = ?", (rowid,))
        return removed

    def _has_entities(self) -> bool:
        return has_table(self.conn, "entities")

    def thread_heads(self) -> tuple[list[tuple], list[tuple]]:
        """(every article's (rowid, id, story), each story's first article's (rowid, id,
        story, date, first passage id, title, first passage text)): what threads are found
        from (building/analyses.py)."""
        rows = self.conn.execute(
            "SELECT a.rowid, a.id, a.story, a.date, p.id, a.title, p.text FROM articles a"
            " LEFT JOIN passages p ON p.article_rowid = a.rowid AND p.position = 0"
            " ORDER BY a.rowid").fetchall()
        first: dict[str, tuple] = {}  # story -> its first article's row
        for row in rows:
            aid, story = row[1], row[2]
            if story not in first or aid == story:
                first[story] = row
        return [r[:3] for r in rows], [r for r in first.values() if r[4] is not None]

    def set_threads(self, threads: Sequence[tuple[int, int]]) -> None:
        """Store each article's thread: (article rowid, the rowid of its thread's first
        article), replacing those stored."""
        self.conn.execute("DELETE FROM threads")
        self.conn.executemany("INSERT INTO threads VALUES (?, ?)", threads)

    def without_entities(self, chars: int) -> list[tuple[int, str, str]]:
        """(rowid, title, the text's first `chars` characters) of the articles whose entities
        were not found yet (all, the first time; those added or changed, on an update)."""
        schema.add_entities(self.conn)
        return self.conn.execute(
            "SELECT rowid, title, substr(text, 1, ?) FROM articles WHERE rowid NOT IN"
            " (SELECT article_rowid FROM entities_done) ORDER BY rowid", (chars,)).fetchall()

    def add_entities(self, rowid: int, found: Sequence[tuple[str, str]]) -> None:
        """Store an article's entities ((kind, name) pairs) as found."""
        self.conn.executemany("INSERT INTO entities (article_rowid, kind, name) VALUES (?, ?, ?)",
                              [(rowid, kind, name) for kind, name in found])
        self.conn.execute("INSERT INTO entities_done VALUES (?)", (rowid,))

    def entity_mentions(self) -> list[tuple[str, str, int]]:
        """(kind, name, articles naming it so) of every entity found."""
        return self.conn.execute("SELECT kind, name, count(DISTINCT article_rowid) FROM entities"
                                 " GROUP BY kind, name").fetchall()

    def set_entity_names(self, names: dict[str, tuple[str, str]]) -> None:
        """Store what each name found stands for: (canonical name, kind), replacing all."""
        self.conn.execute("DELETE FROM entity_names")
        self.conn.executemany("INSERT INTO entity_names VALUES (?, ?, ?)",
                              [(name, canonical, kind) for name, (canonical, kind)
                               in names.items()])

    def next_passage_id(self) -> int:
        """The first free passage id."""
        return self.conn.execute("SELECT coalesce(max(id), -1) + 1 FROM passages").fetchone()[0]

    def set_stories(self, stories: dict[str, str]) -> None:
        """Give each article (by id) its story."""
        self.conn.executemany("UPDATE articles SET story = ? WHERE id = ? AND story != ?",
                              [(story, aid, story) for aid, story in stories.items()])

    def passage_count(self) -> int:
        """How many passages the database holds."""
        return self.conn.execute("SELECT count(*) FROM passages").fetchone()[0]

    def add(self, article: Article, passages: Sequence[Passage], first_id: int,
            story: str = "") -> None:
        """Store an article (of story: the id of its story's first article) and its passages,
        numbered from first_id (the vector store's ids). Its language, if not found yet (""),
        is left for the build to find (unfinished)."""
        cur = self.conn.execute(
            "INSERT INTO articles (id, title, text, date, source, url, origin, content_hash, story,"
            " language) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (article.id, article.title, article.text, article.date, article.source, article.url,
             article.origin, article.content_hash, story or article.id,
             article.language or None))
        self.conn.executemany(
            'INSERT INTO passages (id, article_rowid, position, start, "end", text)'
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(first_id + i, cur.lastrowid, p.position, p.start, p.end, p.text)
             for i, p in enumerate(passages)])

    def keyword_documents(self) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
        """What keyword search indexes: (passage id, headline and passage text) and (article row
        id, headline and article text), ids ascending. A headline-only article's one passage
        is its headline: its words count once."""
        passages = [(pid, title if text == title else f"{title}\n{text}") for pid, title, text in
                    self.conn.execute("SELECT p.id, a.title, p.text FROM passages p JOIN articles"
                                      " a ON a.rowid = p.article_rowid ORDER BY p.id")]
        articles = [(rowid, f"{title}\n{text}") for rowid, title, text in self.conn.execute(
            "SELECT rowid, title, text FROM articles ORDER BY rowid")]
        return passages, articles

    def close(self) -> None:
        """Commit, make the file durable and close it."""
        self.conn.commit()
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.close()


