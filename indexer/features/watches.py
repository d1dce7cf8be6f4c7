"""Watches: searches saved by name, and the new stories in them each time the index changes.

A watch follows stories, not passages: the stories that match its search (search/matching.py),
and its `depth` best ranked ones too if asked. Checked against a build of the index, a story
it has never had (neither its article nor a copy of it) is that build's finding for it, once,
with its best passage, best first; one in a thread it already holds says so (a follow-up). A
story is known by its articles' ids, so a rebuild finds nothing new that is not. A check is
recorded once per build: checking again against the same build gives the same findings, so
`index --update` can check every watch (keeping the feeds current) and `news-search watch`
still lists what that update brought, until it is read.

Watches live in the index folder (watch_store.py), beside the builds, so they survive rebuilds.
A check searches with no lock held and writes each watch's rows in a short transaction.
"""

from __future__ import annotations

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
    take_unread,
)

WATCH_FILE = STORE_FILE
__all__ = ["Watch", "Watches", "WatchError", "WatchesDamaged", "story_ids", "check_name"]
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
DEFAULT_DEPTH = 0  # the best ranked stories a watch follows besides those that match
MAX_DEPTH = 100
MAX_WATCHES = 200  # a server that lets its page save watches keeps this many at most
KEPT_FINDINGS = 200  # the newest findings a watch keeps (its feed shows them)
KEPT_CHECKS = 100  # the newest checks a watch keeps in its history
FINDING_FIELDS = ("rank", "score", "article_id", "title", "source", "date", "url", "position",
                  "passage")  # of Hit.fields, in the order a finding has always kept them
KEPT_SEEN = 20_000  # articles a watch remembers having had


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
    seen: list[str] = field(default_factory=list)  # article ids, oldest first
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


def story_ids(hit: Hit) -> list[str]:
    """What knows a story across builds: its articles' ids (its copies' too)."""
    return [hit.article.id, *(c.id for c in hit.copies)]


def known_ids(seen: list[str]) -> set[str]:
    """The article ids a watch has had; from a key of the passages watches once followed
    ("ARTICLE#digest"), its article's."""
    return {key.split("#", 1)[0] if "#" in key else key for key in seen}


def _finding(hit: Hit, build: str, at: str, follows: str | None) -> dict[str, Any]:
    shown = hit.fields()
    return {"index": build, "found": at, **{k: shown[k] for k in FINDING_FIELDS},
            "key": hit.article.id, "follows": follows}


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
        # Watches the build served cannot answer (an outlet, a language or an entity it no
        # longer has), with why: the others are checked all the same.
        self.unchecked: list[tuple[str, str]] = []

    @staticmethod
    def _filled(conn: sqlite3.Connection, name: str, data: str, findings: bool,
                seen: bool = False) -> Watch:
        """A watch from its row, with its checks; findings (else as many placeholders, for
        counting) and seen passages when asked."""
        watch = _searched(name, data)
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
        if not 0 <= depth <= MAX_DEPTH:
            raise QueryError(f"depth must be 0 to {MAX_DEPTH}, got {depth}")
        filters = make_filters(filters.since, filters.until, filters.sources, filters.languages,
                               filters.entities)
        watch = Watch(name, query, mode, filters.since, filters.until, list(filters.sources),
                      depth, _now(), languages=list(filters.languages),
                      entities=list(filters.entities))
        build = searcher.health()["index"]
        watch.seen = self._followed(searcher, watch, set(), False)[0]  # a bad filter fails
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
        report = []
        for name in self._chosen(names):
            try:
                watch = self.get(name, seen=True)
            except WatchesDamaged:
                self.damaged.append(name)  # the others are checked all the same
                continue
            except WatchError:
                continue  # removed meanwhile
            try:
                report.append((watch, self._check_one(searcher, watch, build)))
            except QueryError as exc:
                self.unchecked.append((name, str(exc)))
        return report

    def unread(self, names: list[str] | None = None) -> list[tuple[Watch, list[dict[str, Any]]]]:
        """Each watch (all, or those named) with its findings not read yet, newest first, now
        marked read: what `news-search watch` shows, until it has shown it."""
        chosen = self._chosen(names)
        found = []
        with self.store.writing() as conn:
            for name in chosen:
                row = conn.execute("SELECT data FROM watches WHERE name = ?", (name,)).fetchone()
                try:
                    found.append((_searched(name, row[0]), take_unread(conn, name)))
                except (ValueError, TypeError):
                    self.damaged.append(name)  # the others are shown all the same
        return found

    def _chosen(self, names: list[str] | None) -> list[str]:
        """The watches named (all if none), in the order they were saved; WatchError for a
        name no watch has."""
        known = self.names()
        for name in names or []:
            if name not in known:
                raise _unknown(name)
        return [n for n in known if not names or n in names]

    @staticmethod
    def _followed(searcher: Searcher, watch: Watch, known: set[str], results: bool = True
                  ) -> tuple[list[str], list[Hit]]:
        """The articles of the stories the watch follows now (those that match its search,
        and its `depth` best), and the results of those not known, best first (none unless
        results): a copy of a known story is not new."""
        ids, fresh = searcher.new_stories(watch.query, known, watch.mode, watch.filters,
                                          results)
        if watch.depth:
            best = searcher.search(watch.query, watch.depth, watch.mode, watch.filters).hits
            had = set(ids)
            ids += [h.article.id for h in best if h.article.id not in had]
            fresh += [h for h in best if results and h.article.id not in had | known]
        fresh = [h for h in fresh if not known.intersection(story_ids(h))]
        return ids + [c for h in fresh for c in story_ids(h)[1:]], fresh

    @staticmethod
    def _follows(searcher: Searcher, hit: Hit, known: set[str]) -> str | None:
        """The id of a story the watch holds in this new story's thread, if one is."""
        if hit.thread_stories < 2:
            return None
        return next((t.article.id for t in searcher.thread(hit.article.id)
                     if known.intersection([t.article.id, *(c.id for c in t.copies)])), None)

    def _check_one(self, searcher: Searcher, watch: Watch, build: str) -> list[dict[str, Any]]:
        last = watch.checks[-1] if watch.checks else None
        if last and last["index"] == build:
            return [f for f in watch.findings if f["index"] == build and not last.get("saved")]
        known = known_ids(watch.seen)
        # Saved when watches followed passages: what it follows now is where it starts again.
        rebase = any("#" in key for key in watch.seen[-1:])
        ids, hits = self._followed(searcher, watch, known, not rebase)
        at = _now()
        new = [_finding(h, build, at, self._follows(searcher, h, known)) for h in hits]
        check = {"index": build, "at": at, "new": len(new), **({"saved": True} if rebase else {})}
        with self.store.writing() as conn:
            mine = conn.execute("SELECT data FROM watches WHERE name = ?",
                                (watch.name,)).fetchone()
            latest = rows(conn, "checks", watch.name, newest_first=True, limit=1)
            if mine is None or _loads(mine[0]).get("created") != watch.created:
                return []  # removed or replaced meanwhile
            if latest and latest[0]["index"] == build:  # another process checked it meanwhile
                return [f for f in rows(conn, "findings", watch.name, newest_first=True)
                        if f["index"] == build]
            add_rows(conn, "seen", watch.name, [[i] for i in ids if i not in known], KEPT_SEEN)
            add_rows(conn, "findings", watch.name, list(reversed(new)), KEPT_FINDINGS)
            add_rows(conn, "checks", watch.name, [check], KEPT_CHECKS)
        watch.findings = [*new, *watch.findings][:KEPT_FINDINGS]
        watch.checks = [*watch.checks, check][-KEPT_CHECKS:]
        return new


def _searched(name: str, data: str) -> Watch:
    """A watch's search, from its row's data."""
    fields = _loads(data)
    return Watch(name, **{k: fields[k] for k in _SEARCH_FIELDS if k in fields})


def _loads(text: str) -> dict[str, Any]:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("a watch's row is not an object")
    return data
