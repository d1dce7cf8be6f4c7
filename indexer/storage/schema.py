"""The database's schema, and every change to it since the first released index, in order:
a new build creates the newest schema; an update brings a served build's copy up to it."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Callable

from indexer.errors import IndexMismatchError

DB_NAME = "meta.sqlite"

SCHEMA = """
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
    story TEXT NOT NULL,  -- id of the first article of its story (syndicated copies share it)
    language TEXT,  -- found by the build (analysis/language.py); '' if it cannot be told
    sentences BLOB,  -- its sentences' offsets and its lead (chunking.Layout), found by the build
    lead_end INTEGER,
    lead_words INTEGER
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
"""
THREAD_SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (article_rowid INTEGER PRIMARY KEY, thread INTEGER NOT NULL);
"""
# Only with --entities: has_entities() asks whether the table is there.
ENTITY_SCHEMA = """
CREATE TABLE IF NOT EXISTS entities (  -- who and what each article names
    article_rowid INTEGER NOT NULL,
    kind TEXT NOT NULL,  -- person, organisation or place
    name TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entities_by_name ON entities(name COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS entities_by_article ON entities(article_rowid);
CREATE TABLE IF NOT EXISTS entities_done (article_rowid INTEGER PRIMARY KEY);
CREATE INDEX IF NOT EXISTS entities_by_exact_name ON entities(name);
CREATE TABLE IF NOT EXISTS entity_names (  -- each name as found: the one it stands for
    name TEXT PRIMARY KEY,
    canonical TEXT NOT NULL,
    kind TEXT NOT NULL  -- voted across the mentions of all its names
);
CREATE INDEX IF NOT EXISTS entity_names_by_canonical ON entity_names(canonical);
"""
# Keyword search tables of index formats 2 and 3: keyword search is now kept beside the
# database (keywords.py).
OLD_TABLES = ("passages_fts", "articles_fts")


def has_table(conn: sqlite3.Connection, name: str) -> bool:
    """Whether the database has this table (older indexes lack the newer ones)."""
    return bool(conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone())


def _columns(conn: sqlite3.Connection) -> set[str]:
    return {row[1] for row in conn.execute("PRAGMA table_info(articles)")}


def _needs_stories(conn: sqlite3.Connection, folder: Path) -> None:
    if "story" not in _columns(conn):  # format 1: ids of stories cannot be found afresh
        raise IndexMismatchError(f"{folder} was built by an older version that cannot be "
                                 "updated: rebuild it with `news-search index PATH`")


def _drop_old_keyword_tables(conn: sqlite3.Connection, folder: Path) -> None:
    old = [name for name in OLD_TABLES if has_table(conn, name)]
    for table in old:
        conn.execute(f"DROP TABLE {table}")
    if old:
        conn.execute("VACUUM")  # give their space back


def _add_languages(conn: sqlite3.Connection, folder: Path) -> None:
    if "language" not in _columns(conn):  # NULL until the build finds them
        conn.execute("ALTER TABLE articles ADD COLUMN language TEXT")


def _add_threads(conn: sqlite3.Connection, folder: Path) -> None:
    conn.executescript(THREAD_SCHEMA)


def _add_layouts(conn: sqlite3.Connection, folder: Path) -> None:
    if "sentences" not in _columns(conn):  # NULL until the build finds them
        for column in ("sentences BLOB", "lead_end INTEGER", "lead_words INTEGER"):
            conn.execute(f"ALTER TABLE articles ADD COLUMN {column}")


# Each step brings a database to the version beside it; each is safe to run again, since the
# databases of format 5 and before carry no version (user_version 0).
MIGRATIONS: tuple[tuple[int, Callable[[sqlite3.Connection, Path], None]], ...] = (
    (1, _needs_stories),
    (2, _drop_old_keyword_tables),
    (3, _add_languages),
    (4, _add_threads),
    (5, _add_layouts),
)
VERSION = MIGRATIONS[-1][0]


def create(conn: sqlite3.Connection) -> None:
    """The newest schema, in an empty database."""
    conn.executescript(SCHEMA + THREAD_SCHEMA)
    conn.execute(f"PRAGMA user_version = {VERSION}")


def upgrade(conn: sqlite3.Connection, folder: Path) -> None:
    """Bring a copy of a served build's database (in folder) up to the newest schema."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for target, step in MIGRATIONS:
        if target > version:
            step(conn, folder)
    conn.execute(f"PRAGMA user_version = {VERSION}")


def add_entities(conn: sqlite3.Connection) -> None:
    """The entity tables, the first time a build is asked for entities."""
    conn.executescript(ENTITY_SCHEMA)
