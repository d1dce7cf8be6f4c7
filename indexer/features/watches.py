"""Watches: searches saved by name, and what is new in their results each time the index changes.

A watch follows the first `depth` passages its search ranks (by meaning and words, as the
search does). Checked against a build of the index, the passages among them it has never had
before are that build's findings for it, best first. A passage is known by its article's id and
its text, so a rebuild (which numbers passages anew) finds nothing new that is not. A check is
recorded once per build: checking again against the same build gives the same findings, so
`index --update` can check every watch (keeping the feeds current) and `news-search watch`
still lists what that update brought.

Watches live in the index folder (watch_store.py), beside the builds, so they survive rebuilds.
A check searches with no lock held and writes each watch's rows in a short transaction.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from indexer.errors import QueryError
from indexer.filters import Filters, make_filters
from indexer.search.checks import DEFAULT_MODE, check_mode, check_query
from indexer.search.results import Hit
from indexer.search.searcher import Searcher
from indexer.storage.watch_store import (
    STORE_FILE,
    WatchError,
    WatchesDamaged,
    WatchStore,
    add_rows,
    forget_rows,
    put_watch,
    rows,
)

WATCH_FILE = STORE_FILE
__all__ = ["Watch", "Watches", "WatchError", "WatchesDamaged", "passage_key", "check_name"]
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
DEFAULT_DEPTH = 20  # the passages a watch follows
MAX_DEPTH = 100
MAX_WATCHES = 200  # a server that lets its page save watches keeps this many at most
KEPT_FINDINGS = 200  # the newest findings a watch keeps (its feed shows them)
KEPT_CHECKS = 100  # the newest checks a watch keeps in its history
FINDING_FIELDS = ("rank", "score", "article_id", "title", "source", "date", "url", "position",
                  "passage")  # of Hit.fields, in the order a finding has always kept them
KEPT_SEEN = 20_000  # passages a watch remembers having had


@dataclass
class Watch:
    """A saved search, what it has had, and its checks (newest last)."""

    name: str
    query: str
    mode: str = DEFAULT_MODE
    since: str = ""
    until: str = ""
    sources: list[str] = field(default_factory=list)
    depth: int = DEFAULT_DEPTH
    created: str = ""
    seen: list[str] = field(default_factory=list)  # passage keys, oldest first
    checks: list[dict[str, Any]] = field(default_factory=list)  # {index, at, new}
    findings: list[dict[str, Any]] = field(default_factory=list)  # newest first
    languages: list[str] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)

    @property
    def filters(self) -> Filters:
        """The watch's filters, as a search takes them."""
        return Filters(self.since, self.until, tuple(self.sources), tuple(self.languages),
                       tuple(self.entities))

    def summary(self) -> dict[str, Any]:
        """The watch as the API lists it: its search, and its checks, newest first."""
        return {"name": self.name, "query": self.query, "mode": self.mode,
                "filters": self.filters.to_dict(), "depth": self.depth, "created": self.created,
                "checks": list(reversed(self.checks)), "found": len(self.findings)}


def passage_key(hit: Hit) -> str:
    """What knows a passage across builds: its article's id and a digest of its text."""
    digest = hashlib.sha256(hit.passage.text.encode("utf-8", "surrogatepass")).hexdigest()[:20]
    return f"{hit.article.id}#{digest}"


def _finding(hit: Hit, build: str, at: str) -> dict[str, Any]:
    shown = hit.fields()
    return {"index": build, "found": at, **{k: shown[k] for k in FINDING_FIELDS},
            "key": passage_key(hit)}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _unknown(name: str) -> WatchError:
    return WatchError(f"no watch named {name!r}: `news-search watch list` lists them")


def check_name(name: str) -> str:
    """name, stripped, if it can name a watch (and a feed's address); QueryError otherwise."""
    name = (name or "").strip()
    if not NAME.match(name):
        raise QueryError(f"a watch's name is 1-64 letters, digits, '-' or '_', starting with a "
                         f"letter or digit; got {name[:80]!r}")
    return name


_SEARCH_FIELDS = ("query", "mode", "since", "until", "sources", "depth", "created", "languages",
                  "entities")


class Watches:
    """The watches of an index folder."""

    def __init__(self, index_dir: Path | str):
        self.folder = Path(index_dir)
        self.store = WatchStore(self.folder)
        self.path = self.store.path
        self.damaged: list[str] = []  # watches a check could not read

    @staticmethod
    def _filled(conn: sqlite3.Connection, name: str, data: str, findings: bool,
                seen: bool = False) -> Watch:
        """A watch from its row, with its checks; findings (else as many placeholders, for
        counting) and seen passages when asked."""
        fields = _loads(data)
        watch = Watch(name, **{k: fields[k] for k in _SEARCH_FIELDS if k in fields})
        watch.checks = rows(conn, "checks", name)
        watch.findings = rows(conn, "findings", name, newest_first=True) if findings else \
            [{}] * conn.execute("SELECT COUNT(*) FROM findings WHERE watch = ?",
                                (name,)).fetchone()[0]
        if seen:
            watch.seen = rows(conn, "seen", name)
        return watch

    def count(self) -> int:
        """How many watches there are."""
        return self.store.read(lambda conn: 0 if conn is None else conn.execute(
            "SELECT COUNT(*) FROM watches").fetchone()[0])

    def all(self, findings: bool = False, offset: int = 0, limit: int = -1) -> list[Watch]:
        """Every watch (or `limit` from `offset`) with its checks, in the order they were
        saved (findings: with them; else only counted, as placeholders)."""
        def work(conn: sqlite3.Connection | None) -> list[Watch]:
            if conn is None:
                return []
            return [self._filled(conn, name, data, findings) for name, data in conn.execute(
                "SELECT name, data FROM watches ORDER BY position LIMIT ? OFFSET ?",
                (limit, offset)).fetchall()]

        return self.store.read(work)

    def names(self) -> list[str]:
        """The watches' names, in the order they were saved."""
        return self.store.read(lambda conn: [] if conn is None else [
            r[0] for r in conn.execute("SELECT name FROM watches ORDER BY position")])

    def get(self, name: str, seen: bool = False) -> Watch:
        """The watch of that name with its checks and findings (seen: and the passages it
        has had); WatchError if there is none."""
        def work(conn: sqlite3.Connection | None) -> Watch | None:
            row = None if conn is None else conn.execute(
                "SELECT data FROM watches WHERE name = ?", (name,)).fetchone()
            return None if row is None else self._filled(conn, name, row[0], True, seen)

        found = self.store.read(work)
        if found is None:
            raise _unknown(name)
        return found

    def save(self, searcher: Searcher, name: str, query: str, mode: str = DEFAULT_MODE,
             filters: Filters = Filters(), depth: int = DEFAULT_DEPTH,
             limit: int | None = None) -> Watch:
        """Save a search as a watch (replacing one of that name): what it finds now is its
        starting point, so its first findings are what a later build brings. limit: refuse
        a new watch beyond that many."""
        name, mode = check_name(name), check_mode(mode)
        query, _ = check_query(query, 1)
        if not 1 <= depth <= MAX_DEPTH:
            raise QueryError(f"depth must be 1 to {MAX_DEPTH}, got {depth}")
        filters = make_filters(filters.since, filters.until, filters.sources, filters.languages,
                               filters.entities)
        watch = Watch(name, query, mode, filters.since, filters.until, list(filters.sources),
                      depth, _now(), languages=list(filters.languages),
                      entities=list(filters.entities))
        build = searcher.health()["index"]
        hits = self._passages(searcher, watch)  # a bad filter fails before any write
        watch.seen = [passage_key(h) for h in hits]
        watch.checks = [{"index": build, "at": watch.created, "new": 0, "saved": True}]
        with self.store.writing() as conn:
            known = conn.execute("SELECT 1 FROM watches WHERE name = ?", (name,)).fetchone()
            count = conn.execute("SELECT COUNT(*) FROM watches").fetchone()[0]
            if not known and limit is not None and count >= limit:
                raise QueryError(f"at most {limit} watches; remove one with "
                                 "`news-search watch remove NAME`")
            put_watch(conn, name, {k: getattr(watch, k) for k in _SEARCH_FIELDS})
            add_rows(conn, "seen", name, [[k] for k in watch.seen])
            add_rows(conn, "checks", name, watch.checks)
        return watch

    def remove(self, name: str) -> None:
        """Forget the watch of that name; WatchError if there is none."""
        with self.store.writing() as conn:
            if not conn.execute("DELETE FROM watches WHERE name = ?", (name,)).rowcount:
                raise _unknown(name)
            forget_rows(conn, name)

    def check(self, searcher: Searcher, names: list[str] | None = None
              ) -> list[tuple[Watch, list[dict[str, Any]]]]:
        """Check the watches (all, or those named) against the build the searcher serves:
        each with that build's findings, best first (the same findings again when that build
        was checked before). Each watch is searched with no lock held, then its rows written."""
        build = searcher.health()["index"]
        known = self.names()
        for name in names or []:
            if name not in known:
                raise _unknown(name)
        report = []
        for name in [n for n in known if not names or n in names]:
            try:
                watch = self.get(name, seen=True)
            except WatchesDamaged:
                self.damaged.append(name)  # the others are checked all the same
                continue
            except WatchError:
                continue  # removed meanwhile
            report.append((watch, self._check_one(searcher, watch, build)))
        return report

    @staticmethod
    def _passages(searcher: Searcher, watch: Watch) -> list[Hit]:
        """The passages the watch follows now: its search's first `depth`."""
        return searcher.search(watch.query, watch.depth, watch.mode, watch.filters,
                               group="passage").hits

    def _check_one(self, searcher: Searcher, watch: Watch, build: str) -> list[dict[str, Any]]:
        last = watch.checks[-1] if watch.checks else None
        if last and last["index"] == build:
            return [f for f in watch.findings if f["index"] == build and not last.get("saved")]
        hits = self._passages(searcher, watch)
        seen = set(watch.seen)
        at = _now()
        new = [_finding(h, build, at) for h in hits if passage_key(h) not in seen]
        check = {"index": build, "at": at, "new": len(new)}
        with self.store.writing() as conn:
            mine = conn.execute("SELECT data FROM watches WHERE name = ?",
                                (watch.name,)).fetchone()
            latest = rows(conn, "checks", watch.name, newest_first=True, limit=1)
            if mine is None or _loads(mine[0]).get("created") != watch.created:
                return []  # removed or replaced meanwhile
            if latest and latest[0]["index"] == build:  # another process checked it meanwhile
                return [f for f in rows(conn, "findings", watch.name, newest_first=True)
                        if f["index"] == build]
            add_rows(conn, "seen", watch.name, [[f["key"]] for f in new], KEPT_SEEN)
            add_rows(conn, "findings", watch.name, list(reversed(new)), KEPT_FINDINGS)
            add_rows(conn, "checks", watch.name, [check], KEPT_CHECKS)
        watch.findings = [*new, *watch.findings][:KEPT_FINDINGS]
        watch.checks = [*watch.checks, check][-KEPT_CHECKS:]
        return new


def _loads(text: str) -> dict[str, Any]:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("a watch's row is not an object")
    return data
