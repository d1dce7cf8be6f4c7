"""The SQLite database of an index: articles and their passages, looked up by passage id."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Iterable, Sequence

from indexer.analysis.entity_names import spelling_key
from indexer.articles import Article
from indexer.chunking import Layout, Passage
from indexer.dates import FIRST_YEAR, LAST_YEAR
from indexer.errors import IndexCorruptError
from indexer.filters import Filters
from indexer.storage.schema import DB_NAME, has_table

_ARTICLE_COLUMNS = "a.id, a.title, a.text, a.date, a.source, a.url, a.origin, a.language"
_HEADER_COLUMNS = _ARTICLE_COLUMNS.replace("a.text", "''")  # all but the text


def _filter_sql(filters: "Filters | None", resolved: bool = False) -> tuple[str, list[str]]:
    """SQL conditions on `a` (articles) for filters, to follow a WHERE clause, and their values.
    resolved: the entities named are canonical names (entity_names), each standing for all its
    variants."""
    if not filters:
        return "", []
    where, params = [], []
    if filters.since or filters.until:
        # Dates kept as raw text, or outside the years kept (dates.py), never pass.
        where.append(f"a.date GLOB '[0-9][0-9][0-9][0-9]*' AND a.date >= '{FIRST_YEAR}'"
                     f" AND a.date < '{LAST_YEAR + 1}'")
    if filters.since:
        where.append("a.date >= ?")
        params.append(filters.since)
    if filters.until:
        where.append("a.date <= ?")
        params.append(filters.until + "~")  # "~" sorts after "T...": the whole day is in
    if filters.sources:
        where.append(f"a.source COLLATE NOCASE IN ({','.join('?' * len(filters.sources))})")
        params.extend(filters.sources)
    if filters.languages:
        where.append(f"a.language IN ({','.join('?' * len(filters.languages))})")
        params.extend(filters.languages)
    for name in filters.entities:  # an article names them all
        where.append("a.rowid IN (SELECT article_rowid FROM entities WHERE name IN (SELECT name"
                     " FROM entity_names WHERE canonical = ?))" if resolved else
                     "a.rowid IN (SELECT article_rowid FROM entities WHERE name = ?"
                     " COLLATE NOCASE)")
        params.append(name)
    return "".join(f" AND {w}" for w in where), params


class MetadataReader:
    """Read-only access to an index's database, one connection per thread."""

    def __init__(self, folder: Path):
        self.path = folder / DB_NAME
        if not self.path.is_file():
            raise IndexCorruptError(f"{self.path} is missing: rebuild the index with "
                                    "`news-search index PATH`")
        self._local = threading.local()
        self._held: set[str] | None = None  # the articles table's columns
        self._tables: dict[str, bool] = {}  # whether it has each table asked about
        self._spellings: dict[str, str] | None = None  # an entity's spelling key -> its name

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

    def passages(self, ids: Iterable[int], layouts: dict[str, Layout] | None = None
                 ) -> dict[int, tuple[Passage, Article]]:
        """The passages with the given ids and their articles, keyed by passage id. The articles
        come without their text (""): a hit shows its passage, and a page of hits would
        otherwise read every article whole. layouts, if given, receives the stored sentences
        and leads of their articles (chunking.Layout), in the same query."""
        ids = [int(i) for i in ids]
        if not ids:
            return {}
        extra = ", a.sentences, a.lead_end, a.lead_words" if self._has_layouts() else \
            ", NULL, NULL, NULL"
        marks = ",".join("?" * len(ids))
        rows = self._conn().execute(
            f'SELECT p.id, p.position, p.start, p."end", p.text, '
            f"{self._columns(_HEADER_COLUMNS)}{extra} FROM passages p JOIN articles a"
            f" ON a.rowid = p.article_rowid WHERE p.id IN ({marks})",
            ids).fetchall()
        found = {}
        for pid, position, start, end, text, *art, blob, lead_end, lead_words in rows:
            article = Article(*art)
            found[pid] = (Passage(article.id, position, start, end, text), article)
            if layouts is not None and blob is not None and article.id not in layouts:
                layouts[article.id] = Layout.unpacked(blob, lead_end, lead_words)
        return found

    def filtered_passages(self, filters: "Filters") -> list[int]:
        """Ids of the passages whose articles pass filters."""
        where, params = _filter_sql(filters, self._has_names())
        return [pid for (pid,) in self._conn().execute(
            "SELECT p.id FROM passages p JOIN articles a ON a.rowid = p.article_rowid"
            f" WHERE 1{where}", params)]

    def passage_owners(self) -> list[tuple[int, int, str]]:
        """(passage id, its article's row id, its story) for every passage."""
        story = "a.story" if self._has_stories() else "a.id"
        return self._conn().execute(
            f"SELECT p.id, p.article_rowid, {story} FROM passages p"
            " JOIN articles a ON a.rowid = p.article_rowid").fetchall()

    def _has_column(self, name: str) -> bool:
        """Whether the articles table has this column: older builds lack the newer ones
        (stories, languages, layouts). A build never changes once published, so the table's
        columns are read once."""
        if self._held is None:
            self._held = {row[1] for row in self._conn().execute("PRAGMA table_info(articles)")}
        return name in self._held

    def _has_table(self, name: str) -> bool:
        """Whether the database has this table (older builds lack the newer ones), asked once:
        a build never changes once published."""
        if name not in self._tables:
            self._tables[name] = has_table(self._conn(), name)
        return self._tables[name]

    def _has_stories(self) -> bool:
        return self._has_column("story")  # without: each article is its own story

    def story_copies(self, article_id: str) -> list[Article]:
        """The other articles of this article's story (its syndicated copies), oldest first, then
        by id (not by the order of reading: an update lists them as a rebuild does)."""
        if not self._has_stories():
            return []
        rows = self._conn().execute(
            f"SELECT {self._columns(_HEADER_COLUMNS)} FROM articles a WHERE a.story ="
            " (SELECT story FROM articles WHERE id = ?) AND a.id != ? ORDER BY a.date, a.id",
            (article_id, article_id)).fetchall()
        return [Article(*row) for row in rows]

    def rows_by_id(self) -> list[int]:
        """Article row ids in the order of the articles' ids."""
        return [row for (row,) in self._conn().execute("SELECT rowid FROM articles ORDER BY id")]

    def article_dates(self) -> dict[int, str]:
        """Each article's row id with its date as stored."""
        return dict(self._conn().execute("SELECT rowid, date FROM articles"))

    def _has_layouts(self) -> bool:
        return self._has_column("sentences")

    def _has_languages(self) -> bool:
        return self._has_column("language")

    def _columns(self, columns: str) -> str:
        """columns as this database has them: one built before languages has none ('')."""
        return columns if self._has_languages() else columns.replace("a.language", "''")

    def threads(self) -> list[tuple[int, int]]:
        """(article row id, thread) of every article; none for an index built before threads."""
        if not self._has_table("threads"):
            return []
        return self._conn().execute("SELECT article_rowid, thread FROM threads").fetchall()

    def thread(self, article_id: str) -> list[tuple[Article, str, str]]:
        """(article, story, its first passage's text) of every article in the thread of the
        article with this id, oldest first; [] if it has none recorded."""
        if not self._has_table("threads"):
            return []
        rows = self._conn().execute(
            f"SELECT {self._columns(_HEADER_COLUMNS)}, a.story, (SELECT p.text FROM passages p"
            " WHERE p.article_rowid = a.rowid ORDER BY p.position LIMIT 1)"
            " FROM threads t JOIN articles a ON a.rowid = t.article_rowid WHERE t.thread ="
            " (SELECT t2.thread FROM threads t2 JOIN articles a2 ON a2.rowid = t2.article_rowid"
            " WHERE a2.id = ?) ORDER BY a.date, a.rowid", (article_id,)).fetchall()
        return [(Article(*row[:-2]), row[-2], row[-1] or "") for row in rows]

    def probe(self) -> None:
        """Read one row: IndexCorruptError when the database cannot be read now."""
        try:
            self._conn().execute("SELECT rowid FROM articles LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise IndexCorruptError(f"{self.path} cannot be read ({exc}): rebuild the index "
                                    "with `news-search index PATH`") from None

    def has_entities(self) -> bool:
        """Whether entities were found for this index (index --entities)."""
        return self._has_table("entities")

    def entity_known(self, name: str) -> bool:
        return bool(self._conn().execute(
            "SELECT 1 FROM entities WHERE name = ? COLLATE NOCASE LIMIT 1", (name,)).fetchone())

    def _has_names(self) -> bool:
        """Whether the entities' names were resolved (entity_names.py; a build before, not)."""
        return self._has_table("entity_names")

    def entity_canonical(self, name: str) -> str | None:
        """The name the index gives the entity a name stands for (any variant, case or
        spelling: "U.S", "Kim Jong Nam"); None when no article names it."""
        if not self.has_entities():
            return None
        if not self._has_names():
            return name if self.entity_known(name) else None
        row = self._conn().execute("SELECT canonical FROM entity_names WHERE name = ? COLLATE"
                                   " NOCASE LIMIT 1", (name,)).fetchone()
        if row:
            return row[0]
        if self._spellings is None:  # a build never changes: read once
            self._spellings = {spelling_key(n): c for n, c in self._conn().execute(
                "SELECT name, canonical FROM entity_names ORDER BY name")}
        return self._spellings.get(spelling_key(name))

    def people_surnamed(self, word: str, top: int = 5) -> list[tuple[str, int]]:
        """The people whose name ends in this word, with their articles, most first."""
        if not self._has_names() or " " in word.strip():
            return []
        return self._conn().execute(
            "SELECT n.canonical, count(DISTINCT e.article_rowid) AS c FROM entity_names n"
            " JOIN entities e ON e.name = n.name WHERE n.kind = 'person' AND n.canonical"
            " LIKE '% ' || ? GROUP BY n.canonical ORDER BY c DESC, n.canonical LIMIT ?",
            (word.strip(), top)).fetchall()

    def entity(self, canonical: str) -> tuple[str, list[tuple[str, int]], list[int]]:
        """An entity by its canonical name: its kind, the names it was found as with their
        articles (most first), and the row ids of the articles naming it."""
        rows = self._conn().execute(
            "SELECT n.kind, e.name, e.article_rowid FROM entity_names n JOIN entities e"
            " ON e.name = n.name WHERE n.canonical = ?" if self._has_names() else
            "SELECT kind, name, article_rowid FROM entities WHERE name = ? COLLATE NOCASE",
            (canonical,)).fetchall()
        kind = rows[0][0] if rows else ""
        variants: dict[str, set[int]] = {}
        for _, name, rowid in rows:
            variants.setdefault(name, set()).add(rowid)
        ranked = sorted(((n, len(r)) for n, r in variants.items()), key=lambda v: (-v[1], v[0]))
        return kind, ranked, sorted({rowid for _, _, rowid in rows})

    def articles_by_rowid(self, rowids: Sequence[int]) -> list[Article]:
        """The articles (without their text) of these row ids, in that order."""
        if not rowids:
            return []
        rows = self._conn().execute(
            f"SELECT a.rowid, {self._columns(_HEADER_COLUMNS)} FROM articles a WHERE a.rowid IN"
            f" ({','.join('?' * len(rowids))})", list(rowids)).fetchall()
        found = {row[0]: Article(*row[1:]) for row in rows}
        return [found[r] for r in rowids if r in found]

    def entity_counts(self, rowids: Sequence[int], top: int) -> list[tuple[str, str, int]]:
        """(kind, name, articles) of the entities most named among these articles, most first,
        up to top of each kind."""
        if not rowids or not self.has_entities():
            return []
        marks = ','.join('?' * len(rowids))
        rows = self._conn().execute(
            "SELECT n.kind, n.canonical, count(DISTINCT e.article_rowid) AS c FROM entities e"
            f" JOIN entity_names n ON n.name = e.name WHERE e.article_rowid IN ({marks})"
            " GROUP BY n.canonical ORDER BY c DESC, n.canonical" if self._has_names() else
            f"SELECT kind, name, count(DISTINCT article_rowid) AS n FROM entities"
            f" WHERE article_rowid IN ({marks})"
            " GROUP BY kind, name COLLATE NOCASE ORDER BY n DESC, name", list(rowids)).fetchall()
        taken: dict[str, int] = {}
        found = []
        for kind, name, n in rows:
            if taken.get(kind, 0) < top:
                taken[kind] = taken.get(kind, 0) + 1
                found.append((kind, name, n))
        return found

    def languages(self) -> list[tuple[str, int]]:
        """The languages of the articles with their counts, largest first ("" if unknown)."""
        if not self._has_languages():
            return [("", self.counts()[0])]
        return self._conn().execute(
            "SELECT language, count(*) FROM articles GROUP BY language"
            " ORDER BY count(*) DESC, language").fetchall()

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

    def excerpts(self, spans: Iterable[tuple[str, int, int]]) -> list[str]:
        """For each (article id, start, end), text[start:end] of that article ("" for an unknown
        one), read without reading the article whole, all in one query."""
        spans = list(spans)
        if not spans:
            return []
        values = ",".join(["(?, ?, ?, ?)"] * len(spans))
        params = [x for n, (aid, start, end) in enumerate(spans)
                  for x in (n, aid, start + 1, max(0, end - start))]
        rows = self._conn().execute(
            f"WITH wanted(n, id, start, length) AS (VALUES {values}) SELECT w.n,"
            " coalesce(substr(a.text, w.start, w.length), '') FROM wanted w"
            " LEFT JOIN articles a ON a.id = w.id ORDER BY w.n", params).fetchall()
        return [text for _, text in rows]

    def article(self, article_id: str) -> Article | None:
        """The article with this id, or None."""
        row = self._conn().execute(
            f"SELECT {self._columns(_ARTICLE_COLUMNS)} FROM articles a WHERE a.id = ?",
            (article_id,)).fetchone()
        return Article(*row) if row else None

    def article_rows(self, keys: Iterable[int] | None = None) -> list[tuple]:
        """Every article (or those with these row ids) as (rowid, id, title, text, date, source,
        url, origin, content_hash, story, language), language "" in an index built before
        languages: for a copy of the build (Milvus' upload and update)."""
        language = "language" if self._has_languages() else "''"
        return self._conn().execute(
            "SELECT rowid, id, title, text, date, source, url, origin, content_hash, story, "
            f"{language} FROM articles{_among('rowid', keys)}",
            () if keys is None else (json.dumps(list(keys)),)).fetchall()

    def passage_rows(self, keys: Iterable[int] | None = None) -> list[tuple]:
        """Every passage (or those of the articles with these row ids) as (id, article rowid,
        position, start, end, text), by id."""
        return self._conn().execute(
            'SELECT id, article_rowid, position, start, "end", text FROM passages'
            f"{_among('article_rowid', keys)} ORDER BY id",
            () if keys is None else (json.dumps(list(keys)),)).fetchall()

    def story_rows(self) -> dict[int, tuple[str, str, int, int]]:
        """Every article's (id, content hash, its story's first article's row id, how many
        articles its story holds), by row id: what tells an update's changes apart."""
        return {rowid: rest for rowid, *rest in self._conn().execute(
            "SELECT a.rowid, a.id, a.content_hash, coalesce(f.rowid, a.rowid), s.n FROM"
            " articles a LEFT JOIN articles f ON f.id = a.story JOIN (SELECT story, count(*)"
            " AS n FROM articles GROUP BY story) s ON s.story = a.story")}

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _among(column: str, keys: Iterable[int] | None) -> str:
    """A WHERE clause keeping the rows whose column is among keys (one JSON parameter), or none."""
    return "" if keys is None else f" WHERE {column} IN (SELECT value FROM json_each(?))"
