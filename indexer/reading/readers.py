"""Reading an archive (files or folders of text, Markdown, HTML, JSON, JSONL, CSV) into Articles.

An archive is whatever a disk holds, so reading is defensive: only regular files inside the
archive are opened (links that lead outside it, FIFOs and devices are listed as skipped), files
read whole and single records have size limits, JSON Lines and CSV are streamed a record at a
time, and no exception from one file stops the others.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterable, Iterator

from indexer.articles import Article, printable
from indexer.reading.formats import READERS
from indexer.reading.report import (
    FORMATS,
    NOT_ARTICLES,
    SIDECAR_SUFFIX,
    ArchiveError,
    ReadOptions,
    ReadReport,
    Skipped,
    file_format,
    file_kind,
    inside,
    path_id,
)
from indexer.reading.streams import Part, InputFile, Unreadable


def archive_files(paths: Iterable[Path], report: ReadReport,
                  options: ReadOptions = ReadOptions()) -> Iterator[tuple[Path, Path]]:
    """Yield (file, root) for every readable article file under the given files and folders.

    A path given by name is read even when it is a link. Inside a folder, links are followed
    only to what lies inside that folder (or anywhere with options.follow_links); links that
    lead elsewhere, broken links, FIFOs, sockets and devices are skipped with their reason,
    without being opened.
    """
    for path in paths:
        path = Path(path)
        try:
            mode = path.stat().st_mode
        except OSError:
            if path.is_symlink():
                report.skip(printable(path), f"broken link to {printable(os.readlink(path))}")
                continue
            raise ArchiveError(f"{printable(path)}: no such file or folder") from None
        if stat.S_ISREG(mode):
            yield path, path.parent
        elif stat.S_ISDIR(mode):
            yield from _walk(path, report, options)
        else:
            report.skip(printable(path), f"{file_kind(mode)}, not a file of articles: not read")


def _walk(root: Path, report: ReadReport, options: ReadOptions) -> Iterator[tuple[Path, Path]]:
    """The article files under root, in name order, depth first; each folder visited once."""
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            info = folder.stat()
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            report.skip(printable(folder), f"cannot list this folder: {exc.strerror or exc}")
            continue
        if (info.st_dev, info.st_ino) in seen:
            continue  # a link back to a folder already read
        seen.add((info.st_dev, info.st_ino))
        subfolders = []
        for entry in entries:
            path = Path(entry.path)
            if entry.name.startswith(".") or entry.name.endswith(SIDECAR_SUFFIX):
                continue  # hidden files and metadata sidecars are not articles
            where = printable(path)
            try:
                mode = entry.stat(follow_symlinks=True).st_mode
            except OSError:
                if entry.is_symlink():
                    report.skip(where, f"broken link to {printable(os.readlink(path))}")
                else:
                    report.skip(where, "cannot be examined (it vanished, or permission denied)")
                continue
            if entry.is_symlink() and not options.follow_links and not inside(path, root):
                report.skip(where, f"link to {printable(os.path.realpath(path))}, outside the "
                            "archive: not read (pass --follow-links to read what links lead to)")
                continue
            if stat.S_ISDIR(mode):
                subfolders.append(path)
                continue
            if not stat.S_ISREG(mode):
                report.skip(where, f"{file_kind(mode)}, not a file of articles: not read")
                continue
            if NOT_ARTICLES.match(entry.name):
                report.skip(where, "looks like documentation (README, LICENSE...), not an article")
                continue
            if file_format(path) is None:
                report.skip(where, f"unsupported file type '{''.join(path.suffixes) or path.name}';"
                            f" supported: {', '.join(sorted(FORMATS))} (optionally .gz)")
                continue
            yield path, root
        stack.extend(reversed(subfolders))




def read_archive(paths: Iterable[Path], report: ReadReport,
                 options: ReadOptions = ReadOptions()) -> Iterator[Article]:
    """Yield every article in the given files and folders; what cannot be read goes to report.

    Nothing a file holds stops the reading of the others: a reader's failure skips the rest of
    that file, with its reason.
    """
    for file, root in archive_files(paths, report, options):
        yield from read_file(file, root, report, options)


def read_file(file: Path, root: Path, report: ReadReport,
              options: ReadOptions = ReadOptions(), part: Part | None = None
              ) -> Iterator[Article]:
    """Yield the articles of one file of the archive under root (archive_files' pairs), or of
    one part of it (see parts: the file is then counted, and said to hold no articles, by
    whoever reads all its parts); what cannot be read goes to report, and never raises."""
    fmt = file_format(file)
    where = printable(file)
    if fmt is None:
        report.skip(where, f"unsupported file type; supported: {', '.join(sorted(FORMATS))}")
        return
    infile = InputFile(file, root, options, part)
    produced, skips = 0, report.skip_count
    try:
        for item in READERS[fmt](infile, path_id(file, root), options):
            if isinstance(item, Skipped):
                report.skip(item.where, item.reason)
            else:
                produced += 1
                report.articles += 1
                yield item
    except Unreadable as exc:
        report.skip(where, str(exc) if not produced else
                    f"{exc}; the {produced} articles before it were read")
    except Exception as exc:  # noqa: BLE001 - one file's trouble never stops the build
        what = printable(f"{type(exc).__name__}: {exc}"[:300])
        report.skip(where, f"could not be read ({what})" if not produced else
                    f"reading stopped after {produced} articles ({what})")
    if infile.counted and part is None:
        report.files += 1
        if not produced and report.skip_count == skips:
            report.skip(where, "holds no articles")


