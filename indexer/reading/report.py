"""What reading an archive found, how far it goes, and why it stops: the report, the
options, and the
limits."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from indexer.articles import printable
from indexer.sizes import MB, human_size

FORMATS = {
    ".txt": "text", ".text": "text",
    ".md": "markdown", ".markdown": "markdown",
    ".html": "html", ".htm": "html", ".xhtml": "html",
    ".json": "json",
    ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".csv": "csv", ".tsv": "tsv",
}
STREAMED = ("jsonl", "csv", "tsv")  # read a record at a time; the rest are read whole
SIDECAR_SUFFIX = ".meta.json"  # "story.meta.json" beside "story.txt" gives its date, source, url
# A JSON or HTML file is read whole, and held two or three times over while it is parsed: a
# build that read a 250 MB JSON file peaked at 580 MB (docs/history, "Hostile archives").
DEFAULT_MAX_FILE_BYTES = 256 * MB
# The longest real news stories are a few hundred kB; a record of megabytes is a dump or a
# mistake, and its embedding would take minutes.
DEFAULT_MAX_ARTICLE_BYTES = 2 * MB
MAX_SIDECAR_BYTES = 1 * MB
MAX_SKIPS_LISTED = 1000  # skips kept with their reasons; beyond it they are only counted
SNIFF_BYTES = 64 * 1024  # what an encoding is guessed from, and binary files told by
# Lists of articles inside a JSON object, under the names exports use most.
JSON_LIST_KEYS = ("articles", "items", "data", "results", "documents", "docs", "records", "stories")
NOT_ARTICLES = re.compile(r"^(readme|license|licence|copying|changelog|notice)(\.|$)", re.I)
FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)---[ \t]*(\n|\Z)", re.S)


@dataclass(frozen=True)
class Skipped:
    """Something in the archive that was not indexed, and why."""

    where: str  # "path" or "path:line"
    reason: str


@dataclass
class ReadReport:
    """What reading an archive found: files read, articles produced, and what was skipped.

    `skipped` lists the first MAX_SKIPS_LISTED skips; `skip_count` counts them all.
    """

    files: int = 0
    articles: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    skip_count: int = 0

    def skip(self, where: str, reason: str) -> None:
        """Record one skipped file or record."""
        self.skip_count += 1
        if len(self.skipped) < MAX_SKIPS_LISTED:  # (a file name in either may not be UTF-8)
            self.skipped.append(Skipped(printable(where), printable(reason)))


@dataclass(frozen=True)
class ReadOptions:
    """How far reading goes: links out of the archive, and the size limits."""

    follow_links: bool = False  # read what links lead to outside the archive folder
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES  # a file read whole (not JSONL, CSV, TSV)
    max_article_bytes: int = DEFAULT_MAX_ARTICLE_BYTES  # a record, and an article's text


class ArchiveError(Exception):
    """The archive as a whole cannot be read (a missing path, say)."""



def over(what: str, limit: int, unit: str) -> str:
    option = "--max-file-size" if what == "file" else "--max-article-size"
    return (f"{unit} is over the {what} size limit of {human_size(limit)}: not read (raise "
            f"{option} to read it)")


def path_id(file: Path, root: Path) -> str:
    rel = printable(file.relative_to(root).as_posix())
    for suffix in (".gz", *FORMATS):
        rel = rel.removesuffix(suffix)
    return rel


def inside(path: Path, root: Path) -> bool:
    """Whether path, its links resolved, lies in the folder root (links resolved too)."""
    target, real_root = Path(os.path.realpath(path)), Path(os.path.realpath(root))
    return target == real_root or real_root in target.parents

def file_kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a regular file"


def file_format(path: Path) -> str | None:
    """The reader for a file by its suffix (a trailing .gz is looked through), or None."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return FORMATS.get(suffixes[-1]) if suffixes else None
