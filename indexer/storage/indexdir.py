"""The index folder: complete builds side by side, a CURRENT pointer swapped atomically, a lock."""

from __future__ import annotations

import errno
import fcntl
import os
import re
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from indexer.errors import IndexBusyError, IndexerError, IndexNotFoundError

CURRENT = "CURRENT"  # holds the name of the build that is served
LOCK = ".lock"
_BUILDING = ".building-"
_BUILD = "build-"


_BUILD_NAME = re.compile(r"build-[A-Za-z0-9_-]{1,100}")


def read_current(index_dir: Path) -> tuple[str | None, str | None]:
    """(the build CURRENT names, None), or (None, why not): CURRENT missing, unreadable, or
    naming anything but a build folder inside index_dir (never a path elsewhere)."""
    try:
        raw = (index_dir / CURRENT).read_bytes()[:200]
    except FileNotFoundError:
        return None, "no CURRENT file names the build to serve"
    except OSError as exc:
        return None, f"CURRENT cannot be read ({exc.strerror or exc})"
    try:
        name = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return None, "CURRENT is damaged (not UTF-8 text)"
    if not _BUILD_NAME.fullmatch(name):
        return None, f"CURRENT names {name[:100]!r}, which is not a build's name"
    if not (index_dir / name).is_dir() or (index_dir / name).is_symlink():
        return None, f"CURRENT names {name}, which is not a build in the index folder"
    return name, None


def current_build(index_dir: Path) -> Path:
    """The folder of the complete build that CURRENT names; IndexNotFoundError if none."""
    name, problem = read_current(index_dir)
    if name is None:
        if not (index_dir / CURRENT).exists() and not builds(index_dir):
            raise IndexNotFoundError(f"no index in {index_dir}: build one with "
                                     "`news-search index PATH`")
        raise IndexNotFoundError(f"{problem} in {index_dir}: rebuild the index with "
                                 "`news-search index PATH`")
    return index_dir / name


def served_build(index_dir: Path) -> Path:
    """The build a server serves: the one CURRENT names, else (CURRENT damaged) the newest
    build in the folder; IndexNotFoundError when there is none."""
    try:
        return current_build(index_dir)
    except IndexNotFoundError:
        found = builds(index_dir)
        if not found:
            raise
        return found[-1]


def builds(index_dir: Path) -> list[Path]:
    """The complete builds in the index folder (the served one and the one before it, mostly),
    oldest first: their names sort by when they were made."""
    return sorted(p for p in index_dir.glob(f"{_BUILD}*")
                  if _BUILD_NAME.fullmatch(p.name) and p.is_dir() and not p.is_symlink())


def current_name(index_dir: Path) -> str | None:
    """What CURRENT names now, cheaply, for noticing a swap; None if it names no build."""
    return read_current(index_dir)[0]


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index folder's lock for a build; IndexBusyError if another build holds it."""
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        handle = open(index_dir / LOCK, "a+")
    except OSError as exc:
        raise IndexerError(f"cannot write to index folder {index_dir}: {exc.strerror or exc}; "
                           "choose another with --index-dir") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise IndexBusyError(f"another build is writing {index_dir}: wait for it to finish"
                                     " (the index it replaces keeps serving)") from None
            raise
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def staging_folder(index_dir: Path) -> Iterator[Path]:
    """A new, empty folder for a build; removed again unless publish() took it."""
    _remove_stale_staging(index_dir)
    folder = index_dir / f"{_BUILDING}{os.getpid()}-{time.time_ns()}"
    try:
        folder.mkdir()
    except OSError as exc:
        raise IndexerError(f"cannot write to index folder {index_dir}: {exc.strerror or exc}; "
                           "choose another with --index-dir") from None
    try:
        yield folder
    finally:
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)


def publish(index_dir: Path, staged: Path) -> Path:
    """Make a complete staged build the served one, atomically; older builds are removed.

    The build before it is kept, so a process still reading it finishes undisturbed.
    """
    for file in staged.iterdir():
        _fsync(file)
    final = index_dir / f"{_BUILD}{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 10**9:09d}"
    staged.rename(final)
    previous = current_name(index_dir)
    tmp = index_dir / f"{CURRENT}.tmp"
    tmp.write_text(final.name + "\n", "utf-8")
    _fsync(tmp)
    os.replace(tmp, index_dir / CURRENT)  # the swap: readers see the old build or the new one
    _fsync(index_dir)
    for old in index_dir.glob(f"{_BUILD}*"):
        if old.name not in (final.name, previous):
            shutil.rmtree(old, ignore_errors=True)
    return final


def _remove_stale_staging(index_dir: Path) -> None:
    # Called under the build lock: any staging folder left is from a build that died.
    for stale in index_dir.glob(f"{_BUILDING}*"):
        shutil.rmtree(stale, ignore_errors=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
