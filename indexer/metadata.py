"""The SQLite database of an index: articles and their passages, looked up by passage id."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Iterable, Sequence

from .articles import Article
from .chunking import Passage
from .errors import IndexCorruptError, IndexMismatchError
from .filters import Filters

DB_NAME = "meta.sqlite"

# Keyword (BM25) search over whole articles; rowid = article row id. A passage's keyword evidence
# is its own BM25 and its article's: the query's words may sit in the passage or around it. Added
# in index format 3; `--update` adds it to a format 2 database from the stored articles.
_ARTICLES_FTS = """
CREATE VIRTUAL TABLE articles_fts USING fts5(
    title, text, content='', tokenize='porter unicode61 remove_diacritics 2'
);
"""
_SCHEMA = """
CREATE TABLE articles (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    date TEXT NOT NULL,
    source TEXT NOT NULL,
    url TEXT NOT NULL,
    origin TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    story TEXT NOT NULL  -- id of the first article of its story (syndicated copies share it)
);
CREATE INDEX articles_by_story ON articles(story);
CREATE TABLE passages (
    id INTEGER PRIMARY KEY,
    article_rowid INTEGER NOT NULL REFERENCES articles(rowid),
    position INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX passages_by_article ON passages(article_rowid, position);
CREATE INDEX articles_by_date ON articles(date);
CREATE INDEX articles_by_source ON articles(source COLLATE NOCASE);
-- Keyword (BM25) search over the same passages; rowid = passage id. Contentless: the text is
-- in `passages`, the FTS table keeps only its inverted index. Porter stems English words.
CREATE VIRTUAL TABLE passages_fts USING fts5(
    title, text, content='', tokenize='porter unicode61 remove_diacritics 2'
);
""" + _ARTICLES_FTS
# BM25 weight of a match in the headline against one in the passage text.
TITLE_WEIGHT, TEXT_WEIGHT = 1.0, 1.0
_ARTICLE_COLUMNS = "a.id, a.title, a.text, a.date, a.source, a.url, a.origin"
_HEADER_COLUMNS = _ARTICLE_COLUMNS.replace("a.text", "''")  # all but the text


def _fts_text(title: str, passage_text: str) -> str:
    # A headline-only article's one passage is its headline: index the words once.
    return "" if passage_text == title else passage_text


class MetadataWriter:
    """Writes a database in a staging folder (a new one, or a copy of the served one to update);
    nothing is visible to readers until the folder is swapped in."""

    def __init__(self, folder: Path, create: bool = True):
        self.conn = sqlite3.connect(folder / DB_NAME)
        self.conn.execute("PRAGMA journal_mode=OFF")  # a failed build throws the file away
        self.conn.execute("PRAGMA synchronous=OFF")
        if create:
            self.conn.executescript(_SCHEMA)
        elif "story" not in {row[1] for row in self.conn.execute("PRAGMA table_info(articles)")}:
            raise IndexMismatchError(f"{folder} was built by an older version that cannot be "
                                     "updated: rebuild it with `news-search index PATH`")
        elif not self.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'articles_fts'").fetchone():
            self.conn.executescript(_ARTICLES_FTS)
            self.conn.execute("INSERT INTO articles_fts (rowid, title, text)"
                              " SELECT rowid, title, text FROM articles")

    def existing(self) -> dict[str, tuple[int, str]]:
        """Every stored article's id with its row id and content hash."""
        return {aid: (rowid, digest) for rowid, aid, digest in
                self.conn.execute("SELECT rowid, id, content_hash FROM articles")}

    def remove(self, rowids: Sequence[int]) -> list[int]:
        """Delete these articles, their passages and their keyword entries; the passage ids."""
        removed: list[int] = []
        for rowid in rowids:
            title, article_text = self.conn.execute(
                "SELECT title, text FROM articles WHERE rowid = ?", (rowid,)).fetchone()
            rows = self.conn.execute("SELECT id, text FROM passages WHERE article_rowid = ?",
                                     (rowid,)).fetchall()
            # A contentless FTS5 table forgets a row only when told the values it was given.
            self.conn.executemany(
                "INSERT INTO passages_fts (passages_fts, rowid, title, text)"
                " VALUES ('delete', ?, ?, ?)", [(pid, title, _fts_text(title, text))
                                                 for pid, text in rows])
            self.conn.execute("INSERT INTO articles_fts (articles_fts, rowid, title, text)"
                              " VALUES ('delete', ?, ?, ?)", (rowid, title, article_text))
            self.conn.execute("DELETE FROM passages WHERE article_rowid = ?", (rowid,))
            self.conn.execute("DELETE FROM articles WHERE rowid = ?", (rowid,))
            removed.extend(pid for pid, _ in rows)
        return removed

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
        numbered from first_id (the vector store's ids)."""
        cur = self.conn.execute(
            "INSERT INTO articles (id, title, text, date, source, url, origin, content_hash, story)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (article.id, article.title, article.text, article.date, article.source, article.url,
             article.origin, article.content_hash, story or article.id))
        self.conn.executemany(
            'INSERT INTO passages (id, article_rowid, position, start, "end", text)'
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(first_id + i, cur.lastrowid, p.position, p.start, p.end, p.text)
             for i, p in enumerate(passages)])
        self.conn.execute("INSERT INTO articles_fts (rowid, title, text) VALUES (?, ?, ?)",
                          (cur.lastrowid, article.title, article.text))
        self.conn.executemany(
            "INSERT INTO passages_fts (rowid, title, text) VALUES (?, ?, ?)",
            [(first_id + i, article.title, _fts_text(article.title, p.text))
             for i, p in enumerate(passages)])

    def close(self) -> None:
        """Commit, make the file durable and close it."""
        self.conn.commit()
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.close()


def _match_any(terms: Sequence[str]) -> str:
    """An FTS5 query matching any of terms, each quoted: nothing in a term is read as query
    syntax, and a term of several words must match as a phrase."""
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def _filter_sql(filters: "Filters | None") -> tuple[str, list[str]]:
    """SQL conditions on `a` (articles) for filters, to follow a WHERE clause, and their values."""
    if not filters:
        return "", []
    where, params = [], []
    if filters.since or filters.until:
        where.append("a.date GLOB '[0-9][0-9][0-9][0-9]*'")  # dates kept as raw text never pass
    if filters.since:
        where.append("a.date >= ?")
        params.append(filters.since)
    if filters.until:
        where.append("a.date <= ?")
        params.append(filters.until + "~")  # "~" sorts after "T...": the whole day is in
    if filters.sources:
        where.append(f"a.source COLLATE NOCASE IN ({','.join('?' * len(filters.sources))})")
        params.extend(filters.sources)
    return "".join(f" AND {w}" for w in where), params


class MetadataReader:
    """Read-only access to an index's database, one connection per thread."""

    def __init__(self, folder: Path):
        self.path = folder / DB_NAME
        if not self.path.is_file():
            raise IndexCorruptError(f"{self.path} is missing: rebuild the index with "
                                    "`news-search index PATH`")
        self._local = threading.local()
        self._stories: bool | None = None

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            self._local.conn = conn
        return conn

    def counts(self) -> tuple[int, int]:
        """(articles, passages), read from the database; raises IndexCorruptError if unreadable."""
        try:
            conn = self._conn()
            articles = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
            passages = conn.execute("SELECT count(*) FROM passages").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise IndexCorruptError(f"{self.path} is unreadable ({exc}): rebuild the index with "
                                    "`news-search index PATH`") from None
        return articles, passages

    def passages(self, ids: Iterable[int]) -> dict[int, tuple[Passage, Article]]:
        """The passages with the given ids and their articles, keyed by passage id."""
        ids = [int(i) for i in ids]
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._conn().execute(
            f'SELECT p.id, p.position, p.start, p."end", p.text, {_ARTICLE_COLUMNS}'
            f" FROM passages p JOIN articles a ON a.rowid = p.article_rowid WHERE p.id IN ({marks})",
            ids).fetchall()
        found = {}
        for pid, position, start, end, text, *art in rows:
            article = Article(*art)
            found[pid] = (Passage(article.id, position, start, end, text), article)
        return found

    def keyword_search(self, terms: Sequence[str], n: int, filters: "Filters | None" = None
                       ) -> list[tuple[int, float]]:
        """(passage id, BM25 score) of the n passages best matching any of terms, best first,
        among those that pass filters.

        Each term is quoted, so nothing in it is read as FTS5 query syntax, and a term of several
        words ("zq-8812" is "zq" then "8812") must match as a phrase.
        """
        return self._bm25("passages_fts", " JOIN passages p ON p.id = f.rowid"
                          " JOIN articles a ON a.rowid = p.article_rowid", terms, n, filters)

    def article_keyword_search(self, terms: Sequence[str], n: int,
                               filters: "Filters | None" = None) -> list[tuple[int, float]]:
        """(article row id, BM25 score) of the n whole articles best matching any of terms, best
        first, among those that pass filters; terms are quoted as in keyword_search."""
        return self._bm25("articles_fts", " JOIN articles a ON a.rowid = f.rowid", terms, n,
                          filters)

    def _bm25(self, table: str, join_articles: str, terms: Sequence[str], n: int,
              filters: "Filters | None") -> list[tuple[int, float]]:
        """(row id, BM25 score) of the n rows of the FTS5 table best matching any of terms;
        join_articles reaches the `articles a` a filter needs from the table's row."""
        if not terms:
            return []
        where, params = _filter_sql(filters)
        join = join_articles if where else ""
        # FTS5's bm25() is lower for better matches: negate it so that higher is better.
        rows = self._conn().execute(
            f"SELECT f.rowid, -bm25({table}, ?, ?) AS score FROM {table} f{join}"
            f" WHERE {table} MATCH ?{where} ORDER BY score DESC, f.rowid LIMIT ?",
            (TITLE_WEIGHT, TEXT_WEIGHT, _match_any(terms), *params, n)).fetchall()
        return [(int(rowid), float(score)) for rowid, score in rows]

    def filtered_passages(self, filters: "Filters") -> list[int]:
        """Ids of the passages whose articles pass filters."""
        where, params = _filter_sql(filters)
        return [pid for (pid,) in self._conn().execute(
            "SELECT p.id FROM passages p JOIN articles a ON a.rowid = p.article_rowid"
            f" WHERE 1{where}", params)]

    def passage_owners(self) -> list[tuple[int, int, str]]:
        """(passage id, its article's row id, its story) for every passage."""
        story = "a.story" if self._has_stories() else "a.id"
        return self._conn().execute(
            f"SELECT p.id, p.article_rowid, {story} FROM passages p"
            " JOIN articles a ON a.rowid = p.article_rowid").fetchall()

    def _has_stories(self) -> bool:
        # Indexes built before stories were found have no story column: each article is its own.
        # A build never changes once published, so the answer is kept.
        if self._stories is None:
            columns = {row[1] for row in self._conn().execute("PRAGMA table_info(articles)")}
            self._stories = "story" in columns
        return self._stories

    def story_copies(self, article_id: str) -> list[Article]:
        """The other articles of this article's story (its syndicated copies), oldest first."""
        if not self._has_stories():
            return []
        rows = self._conn().execute(
            f"SELECT {_HEADER_COLUMNS} FROM articles a WHERE a.story ="
            " (SELECT story FROM articles WHERE id = ?) AND a.id != ? ORDER BY a.date, a.rowid",
            (article_id, article_id)).fetchall()
        return [Article(*row) for row in rows]

    def article_dates(self) -> dict[int, str]:
        """Each article's row id with its date as stored."""
        return dict(self._conn().execute("SELECT rowid, date FROM articles"))

    def sources(self) -> list[tuple[str, int]]:
        """The outlets in the index with their article counts, largest first."""
        return self._conn().execute(
            "SELECT source, count(*) FROM articles WHERE source != '' GROUP BY source"
            " COLLATE NOCASE ORDER BY count(*) DESC, source").fetchall()

    def passage_articles(self) -> dict[int, str]:
        """Every passage id with its article's id."""
        return dict(self._conn().execute(
            "SELECT p.id, a.id FROM passages p JOIN articles a ON a.rowid = p.article_rowid"))

    def article_passages(self, article_id: str) -> list[tuple[int, Passage]]:
        """(passage id, passage) of the article with this id, in order."""
        rows = self._conn().execute(
            'SELECT p.id, p.position, p.start, p."end", p.text FROM passages p'
            " JOIN articles a ON a.rowid = p.article_rowid WHERE a.id = ? ORDER BY p.position",
            (article_id,)).fetchall()
        return [(pid, Passage(article_id, pos, start, end, text))
                for pid, pos, start, end, text in rows]

    def article(self, article_id: str) -> Article | None:
        """The article with this id, or None."""
        row = self._conn().execute(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles a WHERE a.id = ?", (article_id,)).fetchone()
        return Article(*row) if row else None

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
