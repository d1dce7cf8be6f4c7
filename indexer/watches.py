"""Watches: searches saved by name, and what is new in their results each time the index changes.

A watch follows the first `depth` passages its search ranks (by meaning and words, as the
search does). Checked against a build of the index, the passages among them it has never had
before are that build's findings for it, best first. A passage is known by its article's id and
its text, so a rebuild (which numbers passages anew) finds nothing new that is not. A check is
recorded once per build: checking again against the same build gives the same findings, so
`index --update` can check every watch (keeping the feeds current) and `news-search watch`
still lists what that update brought.

Watches live in the index folder (`watches.json`), beside the builds, so they survive rebuilds;
every change is made under a lock and written whole, then renamed over the old file.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from .errors import IndexerError, QueryError
from .filters import Filters, make_filters
from .search import DEFAULT_MODE, Hit, Searcher, check_mode, check_query

WATCH_FILE = "watches.json"
LOCK_FILE = ".watches.lock"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
DEFAULT_DEPTH = 20  # the passages a watch follows
MAX_DEPTH = 100
MAX_WATCHES = 200  # a server that lets its page save watches keeps this many at most
KEPT_FINDINGS = 200  # the newest findings a watch keeps (its feed shows them)
KEPT_CHECKS = 100  # the newest checks a watch keeps in its history
KEPT_SEEN = 20_000  # passages a watch remembers having had


class WatchError(IndexerError):
    """A watch that cannot be saved, found or read; the message says what to do."""


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
    a = hit.article
    return {"index": build, "found": at, "rank": hit.rank, "score": round(hit.score, 4),
            "article_id": a.id, "title": a.title, "source": a.source, "date": a.date,
            "url": a.url, "position": hit.passage.position,
            "passage": " ".join(hit.passage.text.split()), "key": passage_key(hit)}


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


class Watches:
    """The watches of an index folder."""

    def __init__(self, index_dir: Path | str):
        self.folder = Path(index_dir)
        self.path = self.folder / WATCH_FILE

    @contextmanager
    def _locked(self) -> Iterator[dict[str, Watch]]:
        """The watches, to change: written back whole on leaving, under an exclusive lock
        (servers' workers and the command line may change them at once)."""
        if not self.folder.is_dir():
            raise WatchError(f"no index folder at {self.folder}: build one with "
                             "`news-search index PATH`")
        with open(self.folder / LOCK_FILE, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            watches = self._read()
            yield watches
            self._write(watches)

    def _read(self) -> dict[str, Watch]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise WatchError(f"{self.path} is unreadable ({exc}): restore it from a backup or "
                             "delete it to start without watches") from None
        try:
            return {w["name"]: Watch(**w) for w in data.get("watches", [])}
        except (TypeError, KeyError, AttributeError) as exc:
            raise WatchError(f"{self.path} is not a file of watches ({exc}): restore it from "
                             "a backup or delete it") from None

    def _write(self, watches: dict[str, Watch]) -> None:
        text = json.dumps({"watches": [asdict(w) for w in watches.values()]},
                          ensure_ascii=False, indent=1)
        fd, temp = tempfile.mkstemp(prefix=".watches-", dir=self.folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def all(self) -> list[Watch]:
        """Every watch, in the order they were saved."""
        if not self.path.exists():
            return []
        with open(self.folder / LOCK_FILE, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_SH)
            return list(self._read().values())

    def get(self, name: str) -> Watch:
        """The watch of that name; WatchError if there is none."""
        found = {w.name: w for w in self.all()}.get(name)
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
        with self._locked() as watches:
            if name not in watches and limit is not None and len(watches) >= limit:
                raise QueryError(f"at most {limit} watches; remove one with "
                                 "`news-search watch remove NAME`")
            watches[name] = watch
        return watch

    def remove(self, name: str) -> None:
        """Forget the watch of that name; WatchError if there is none."""
        with self._locked() as watches:
            if watches.pop(name, None) is None:
                raise _unknown(name)

    def check(self, searcher: Searcher, names: list[str] | None = None
              ) -> list[tuple[Watch, list[dict[str, Any]]]]:
        """Check the watches (all, or those named) against the build the searcher serves:
        each with that build's findings, best first (the same findings again when that build
        was checked before)."""
        build = searcher.health()["index"]
        with self._locked() as watches:
            for name in names or []:
                if name not in watches:
                    raise _unknown(name)
            return [(watch, self._check_one(searcher, watch, build))
                    for watch in watches.values() if not names or watch.name in names]

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
        watch.seen = [*watch.seen, *(f["key"] for f in new)][-KEPT_SEEN:]
        watch.findings = [*new, *watch.findings][:KEPT_FINDINGS]
        watch.checks = [*watch.checks, {"index": build, "at": at, "new": len(new)}][-KEPT_CHECKS:]
        return new
