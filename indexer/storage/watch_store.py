"""Where watches are kept: one SQLite file beside the builds, each watch's rows read alone.

SQLite in WAL mode: a reader never waits for a writer (a feed read during `index --update`'s
check answers at once), and a writer takes the lock for one watch's rows at a time. A busy
lock is waited for in short sleeps, not inside SQLite, so a gevent worker serves its other
requests meanwhile (time.sleep is cooperative there). What a watch keeps is bounded by the
caller (seen, findings, checks), so the file's size is bounded too.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from indexer.errors import IndexerError

STORE_FILE = "watches.sqlite"
LEGACY_FILE = "watches.json"  # watches before the store: imported once, then renamed
SCHEMA_VERSION = 1
BUSY_SECONDS = 10.0  # how long a write waits for another writer (a check writes in ms)
T = TypeVar("T")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS watches (name TEXT PRIMARY KEY, position INTEGER NOT NULL,
                                    data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seen (watch TEXT NOT NULL, n INTEGER NOT NULL, key TEXT NOT NULL,
                                 PRIMARY KEY (watch, key));
CREATE INDEX IF NOT EXISTS seen_order ON seen (watch, n);
CREATE TABLE IF NOT EXISTS findings (watch TEXT NOT NULL, n INTEGER NOT NULL,
                                     data TEXT NOT NULL, PRIMARY KEY (watch, n));
CREATE TABLE IF NOT EXISTS checks (watch TEXT NOT NULL, n INTEGER NOT NULL,
                                   data TEXT NOT NULL, PRIMARY KEY (watch, n));
"""


class WatchError(IndexerError):
    """A watch that cannot be saved, found or read; the message says what to do."""


class WatchesDamaged(WatchError):
    """The watches file cannot be read; its message names no path (pages show it)."""


def _damaged(exc: BaseException) -> WatchesDamaged:
    return WatchesDamaged(f"the watches file ({STORE_FILE}) is damaged ({exc}): remove it to "
                          "start without watches")


class WatchStore:
    """The watches file of an index folder: rows in, rows out."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.path = self.folder / STORE_FILE

    def _check_file(self) -> bool:
        """Whether the file exists as a regular file; WatchesDamaged if it is anything else
        (a folder, a link: never followed out of the index folder)."""
        if self.path.is_symlink() or (self.path.exists() and not self.path.is_file()):
            raise WatchesDamaged(f"the watches file ({STORE_FILE}) is not a regular file: "
                                 "remove it to start without watches")
        return self.path.exists()

    def _connect(self) -> tuple[sqlite3.Connection, int]:
        conn = sqlite3.connect(self.path, timeout=0, isolation_level=None,
                               check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout = 0")
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                self._locked_retry(lambda: conn.execute("PRAGMA journal_mode = WAL"))
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.OperationalError:
            conn.close()
            raise  # busy: the caller tries again
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise _damaged(exc) from None
        if version > SCHEMA_VERSION:
            conn.close()
            raise WatchesDamaged(f"the watches file ({STORE_FILE}) was written by a newer "
                                 "news-search: upgrade it")
        return conn, version

    @staticmethod
    def _locked_retry(call: Any) -> Any:
        deadline = time.monotonic() + BUSY_SECONDS
        while True:
            try:
                return call()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) \
                        or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)  # cooperative under gevent: the worker serves others

    def read(self, work: Callable[[sqlite3.Connection | None], T]) -> T:
        """work(a connection) (None when no watch was ever saved), done again after a short
        sleep when SQLite is busy for a moment (a writer checkpointing its log)."""
        if not self._check_file():
            if not (self.folder / LEGACY_FILE).is_file():
                return work(None)
            with self.writing():  # watches saved before this store: imported first
                pass

        def attempt() -> T:
            conn, version = self._connect()
            try:
                return work(conn if version == SCHEMA_VERSION else None)  # None: nothing saved
            finally:
                conn.close()

        try:
            return self._locked_retry(attempt)
        except (sqlite3.DatabaseError, ValueError, RecursionError) as exc:
            raise _damaged(exc) from None

    @contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        """A connection inside a write transaction, committed on leaving (rolled back on an
        error); the file is made, or a legacy watches.json imported, on first use."""
        if not self.folder.is_dir():
            raise WatchError(f"no index folder at {self.folder}: build one with "
                             "`news-search index PATH`")
        self._check_file()
        try:
            conn = self._locked_retry(self._connect)[0]
        except sqlite3.Error as exc:
            raise WatchError(f"the watches file ({STORE_FILE}) cannot be written ({exc})") \
                from None
        try:
            self._locked_retry(lambda: conn.execute("BEGIN IMMEDIATE"))
            if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                for statement in filter(str.strip, _SCHEMA.split(";")):  # executescript
                    conn.execute(statement)                           # would commit first
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                self._import_legacy(conn)
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.DatabaseError) and not isinstance(
                    exc, sqlite3.OperationalError):
                raise _damaged(exc) from None
            raise
        finally:
            conn.close()

    def _import_legacy(self, conn: sqlite3.Connection) -> None:
        """Watches saved in watches.json (before this store) copied in, once; a file that is
        not readable JSON of watches is left where it is, unread."""
        legacy = self.folder / LEGACY_FILE
        if legacy.is_symlink() or not legacy.is_file():
            return
        try:
            data = json.loads(legacy.read_text("utf-8"))
            watches = [w for w in data["watches"] if isinstance(w, dict) and "name" in w]
        except (OSError, ValueError, RecursionError, TypeError, KeyError):
            return
        for position, w in enumerate(watches):
            name = str(w["name"])
            put_watch(conn, name, {k: v for k, v in w.items()
                                   if k not in ("seen", "findings", "checks")}, position)
            add_rows(conn, "seen", name, [[k] for k in w.get("seen", [])])
            add_rows(conn, "findings", name, list(reversed(w.get("findings", []))))
            add_rows(conn, "checks", name, w.get("checks", []))
        legacy.rename(legacy.with_suffix(".json.imported"))


def put_watch(conn: sqlite3.Connection, name: str, data: dict[str, Any],
              position: int | None = None) -> None:
    """Save a watch's search (replacing one of that name, and all it had)."""
    forget_rows(conn, name)
    if position is None:
        old = conn.execute("SELECT position FROM watches WHERE name = ?", (name,)).fetchone()
        position = old[0] if old else conn.execute(
            "SELECT COALESCE(MAX(position), -1) + 1 FROM watches").fetchone()[0]
    conn.execute("INSERT OR REPLACE INTO watches VALUES (?, ?, ?)",
                 (name, position, json.dumps(data, ensure_ascii=False)))


def forget_rows(conn: sqlite3.Connection, name: str) -> None:
    """Drop what a watch has had: its seen passages, findings and checks."""
    for table in ("seen", "findings", "checks"):
        conn.execute(f"DELETE FROM {table} WHERE watch = ?", (name,))


def add_rows(conn: sqlite3.Connection, table: str, name: str, rows: list[Any],
             keep: int | None = None) -> None:
    """Append rows (oldest first) to a watch's seen keys, findings or checks; keep: how many
    of the newest to keep."""
    start = conn.execute(f"SELECT COALESCE(MAX(n), 0) + 1 FROM {table} WHERE watch = ?",
                         (name,)).fetchone()[0]
    if table == "seen":
        conn.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?, ?)",
                         [(name, start + i, row[0]) for i, row in enumerate(rows)])
    else:
        conn.executemany(f"INSERT INTO {table} VALUES (?, ?, ?)",
                         [(name, start + i, json.dumps(row, ensure_ascii=False))
                          for i, row in enumerate(rows)])
    if keep is not None:
        conn.execute(f"DELETE FROM {table} WHERE watch = ? AND n < ?",
                     (name, start + len(rows) - keep))


def rows(conn: sqlite3.Connection, table: str, name: str, newest_first: bool = False,
         limit: int = -1) -> list[Any]:
    """A watch's findings or checks (decoded), or seen keys, oldest first unless asked."""
    order = "DESC" if newest_first else "ASC"
    column = "key" if table == "seen" else "data"
    found = conn.execute(f"SELECT {column} FROM {table} WHERE watch = ? ORDER BY n {order} "
                         "LIMIT ?", (name, limit)).fetchall()
    return [r[0] if table == "seen" else json.loads(r[0]) for r in found]


def take_unread(conn: sqlite3.Connection, name: str) -> list[Any]:
    """A watch's findings not read yet, newest first (decoded), now marked read: those after
    the mark its row's data keeps ("read", the last finding's number)."""
    row = conn.execute("SELECT data FROM watches WHERE name = ?", (name,)).fetchone()
    if row is None:
        return []
    data = json.loads(row[0])
    found = conn.execute("SELECT n, data FROM findings WHERE watch = ? AND n > ? ORDER BY n DESC",
                         (name, int(data.get("read", 0)))).fetchall()
    if found:
        data["read"] = found[0][0]
        conn.execute("UPDATE watches SET data = ? WHERE name = ?",
                     (json.dumps(data, ensure_ascii=False), name))
    return [json.loads(d) for _, d in found]
