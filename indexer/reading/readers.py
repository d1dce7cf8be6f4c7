"""Reading an archive (files or folders of text, Markdown, HTML, JSON, JSONL, CSV) into Articles.

An archive is whatever a disk holds, so reading is defensive: only regular files inside the
archive are opened (links that lead outside it, FIFOs and devices are listed as skipped), files
read whole and single records have size limits, JSON Lines and CSV are streamed a record at a
time, and no exception from one file stops the others.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import logging
import os
import re
import stat
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator

import yaml
from charset_normalizer import from_bytes

from indexer.articles import Article, RecordError, make_article, printable
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
# build that read a 250 MB JSON file peaked at 580 MB (BENCHMARKS.md, "Hostile archives").
DEFAULT_MAX_FILE_BYTES = 256 * MB
# The longest real news stories are a few hundred kB; a record of megabytes is a dump or a
# mistake, and its embedding would take minutes.
DEFAULT_MAX_ARTICLE_BYTES = 2 * MB
MAX_SIDECAR_BYTES = 1 * MB
MAX_SKIPS_LISTED = 1000  # skips kept with their reasons; beyond it they are only counted
_SNIFF_BYTES = 64 * 1024  # what an encoding is guessed from, and binary files told by
# Lists of articles inside a JSON object, under the names exports use most.
_JSON_LIST_KEYS = ("articles", "items", "data", "results", "documents", "docs", "records", "stories")
_NOT_ARTICLES = re.compile(r"^(readme|license|licence|copying|changelog|notice)(\.|$)", re.I)
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)---[ \t]*(\n|\Z)", re.S)


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


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a regular file"


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
            report.skip(printable(path), f"{_kind(mode)}, not a file of articles: not read")


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
            if entry.is_symlink() and not options.follow_links and not _inside(path, root):
                report.skip(where, f"link to {printable(os.path.realpath(path))}, outside the "
                            "archive: not read (pass --follow-links to read what links lead to)")
                continue
            if stat.S_ISDIR(mode):
                subfolders.append(path)
                continue
            if not stat.S_ISREG(mode):
                report.skip(where, f"{_kind(mode)}, not a file of articles: not read")
                continue
            if _NOT_ARTICLES.match(entry.name):
                report.skip(where, "looks like documentation (README, LICENSE...), not an article")
                continue
            if file_format(path) is None:
                report.skip(where, f"unsupported file type '{''.join(path.suffixes) or path.name}';"
                            f" supported: {', '.join(sorted(FORMATS))} (optionally .gz)")
                continue
            yield path, root
        stack.extend(reversed(subfolders))


def file_format(path: Path) -> str | None:
    """The reader for a file by its suffix (a trailing .gz is looked through), or None."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return FORMATS.get(suffixes[-1]) if suffixes else None


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
    source = _Source(file, root, options, part)
    produced, skips = 0, report.skip_count
    try:
        for item in READERS[fmt](source, _path_id(file, root), options):
            if isinstance(item, Skipped):
                report.skip(item.where, item.reason)
            else:
                produced += 1
                report.articles += 1
                yield item
    except _Unreadable as exc:
        report.skip(where, str(exc) if not produced else
                    f"{exc}; the {produced} articles before it were read")
    except Exception as exc:  # noqa: BLE001 - one file's trouble never stops the build
        what = printable(f"{type(exc).__name__}: {exc}"[:300])
        report.skip(where, f"could not be read ({what})" if not produced else
                    f"reading stopped after {produced} articles ({what})")
    if source.counted and part is None:
        report.files += 1
        if not produced and report.skip_count == skips:
            report.skip(where, "holds no articles")


@dataclass(frozen=True)
class Part:
    """Lines of a large JSON Lines file, read apart from the rest: bytes [start, end), whose
    first line is the file's line first_line, in the file's encoding."""

    start: int
    end: int
    first_line: int
    encoding: str


def parts(file: Path, size: int) -> list[Part] | None:
    """A plain JSON Lines file larger than size, cut after line ends into parts of about size
    bytes, to be read side by side (on a cluster); None for a file read whole: smaller, another
    format, gzip'd, not UTF-8 at its start, or unreadable (reading it whole says why). The file
    is read once here, to number the lines as reading it whole would: "\r\n" and a lone "\r"
    end a line, as "\n" does."""
    if file_format(file) != "jsonl" or file.suffix.lower() == ".gz":
        return None
    try:
        if file.stat().st_size <= size:
            return None
        with _open(file, False) as stream:
            head = stream.read(_SNIFF_BYTES)
            _check_start(head)
            encoding = _Source._encoding(head)
            if encoding not in ("utf-8", "utf-8-sig"):
                return None
            stream.seek(0)
            cuts, ends, at, carriage = [(0, 1)], 0, 0, False  # (byte, its line's number)
            while chunk := stream.read(MB):
                search = max(0, cuts[-1][0] + size - at)  # where the next part may start
                while search < len(chunk) and (newline := chunk.find(b"\n", search)) >= 0:
                    cuts.append((at + newline + 1,
                                 1 + ends + _line_ends(chunk[:newline + 1], carriage)))
                    search = newline + 1 + size
                ends += _line_ends(chunk, carriage)
                carriage = chunk.endswith(b"\r")
                at += len(chunk)
    except (OSError, _Unreadable):
        return None
    cuts = [cut for cut in cuts if cut[0] < at]  # no part starts at the file's end
    if len(cuts) == 1:
        return None
    bounds = [byte for byte, _ in cuts] + [at]
    return [Part(bounds[i], bounds[i + 1], line, encoding if i == 0 else "utf-8")
            for i, (_, line) in enumerate(cuts)]


def _line_ends(data: bytes, after_carriage: bool) -> int:
    """The line ends in data as universal newlines count them; after_carriage: the bytes
    before data ended with "\r" (already counted, so a "\n" first is its pair)."""
    ends = data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
    return ends - (after_carriage and data.startswith(b"\n"))


class _Unreadable(Exception):
    """A file (or the rest of it) that cannot be read; the message is the reason."""


def _open(path: Path, gz: bool) -> IO[bytes]:
    """path opened for reading as bytes (decompressed if gz): only a regular file is opened,
    and a FIFO or device swapped in at the last moment does not block the open."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) \
        | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _Unreadable(f"cannot read: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _Unreadable(f"{_kind(mode)}, not a file of articles: not read")
        if flags & getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(fd, True)
        raw = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    return _GzipChecked(raw) if gz else raw


class _GzipChecked(io.BufferedIOBase):
    """A gzip stream whose decompression errors, wherever they come, say what is wrong."""

    def __init__(self, raw: IO[bytes]):
        self._raw = raw
        self._gzip = gzip.GzipFile(fileobj=raw, mode="rb")

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        try:
            return self._gzip.read(size)
        except (OSError, EOFError, zlib.error) as exc:
            raise _Unreadable(f"not a valid gzip file ({exc}); re-compress it or remove .gz") \
                from None

    def read1(self, size: int = -1) -> bytes:
        try:
            return self._gzip.read1(size)
        except (OSError, EOFError, zlib.error) as exc:
            raise _Unreadable(f"not a valid gzip file ({exc}); re-compress it or remove .gz") \
                from None

    def close(self) -> None:
        self._gzip.close()
        self._raw.close()
        super().close()


class _Source:
    """One archive file, opened on demand: read whole up to a limit, or as a stream of text."""

    def __init__(self, path: Path, root: Path, options: ReadOptions, part: Part | None = None):
        self.path, self.root, self.options, self.part = path, root, options, part
        self.where = printable(path)
        self.gz = path.suffix.lower() == ".gz"
        self.counted = False  # as a file read: its start was text

    def whole(self, limit: int, what: str) -> str:
        """The file's text, decoded; _Unreadable if it is empty, binary, undecodable, or over
        limit bytes (what names the limit: "file" or "article")."""
        data = bytearray()
        with _open(self.path, self.gz) as stream:
            while len(data) <= limit:  # a megabyte at a time: read(limit) would allocate it all
                chunk = stream.read(min(MB, limit + 1 - len(data)))
                if not chunk:
                    break
                data += chunk
        if len(data) > limit:
            raise _Unreadable(_over(what, limit, "file"))
        _check_start(data)
        self.counted = True
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            guess = from_bytes(data).best()
            if guess is None:
                raise _Unreadable("not text in any known encoding; save it as UTF-8") from None
            return str(guess)

    @staticmethod
    def _encoding(head: bytes) -> str:
        for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"),
                          (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
                          (codecs.BOM_UTF16_BE, "utf-16")):
            if head.startswith(bom):
                return name
        try:
            codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
            return "utf-8"
        except UnicodeDecodeError:
            guess = from_bytes(head).best()
            if guess is None:
                raise _Unreadable("not text in any known encoding; save it as UTF-8") from None
            return guess.encoding

    @staticmethod
    def _rewound(stream: IO[bytes], head: bytes) -> IO[bytes]:
        """stream from its start again: what was read of it first, then the rest."""
        return io.BufferedReader(_Prefixed(head, stream), 1 << 16)

    def lines(self, newline: str | None) -> Iterator[tuple[int, str | None]]:
        """(line number, line) of the file as text, a line at a time; the line is None where it
        is longer than the article limit (it is read past, never held). The encoding is guessed
        from the file's start; bytes it cannot decode become U+FFFD."""
        limit = self.options.max_article_bytes
        with _open(self.path, self.gz) as stream:
            if self.part is not None:  # its lines alone, in the encoding of the file's start
                stream.seek(self.part.start)
                raw = io.BufferedReader(_Range(stream, self.part.end - self.part.start), 1 << 16)
                encoding, lineno = self.part.encoding, self.part.first_line - 1
            else:
                head = stream.read(_SNIFF_BYTES)
                _check_start(head)
                raw, encoding, lineno = self._rewound(stream, head), self._encoding(head), 0
            text = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline=newline)
            self.counted = True
            while True:
                line = text.readline(limit + 1)
                if not line:
                    return
                lineno += 1
                if len(line) > limit and not line.endswith(("\n", "\r")):
                    while True:  # the rest of this line, a megabyte at a time, dropped
                        rest = text.readline(MB)
                        if not rest or rest.endswith(("\n", "\r")):
                            break
                    yield lineno, None
                else:
                    yield lineno, line


class _Range(io.RawIOBase):
    """The next `length` bytes of a stream, then its end."""

    def __init__(self, stream: IO[bytes], length: int):
        self._stream, self._left = stream, length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(min(len(buffer), self._left))
        self._left -= len(data)
        buffer[:len(data)] = data
        return len(data)


class _Prefixed(io.RawIOBase):
    """Bytes already read from a stream, then the rest of the stream."""

    def __init__(self, head: bytes, rest: IO[bytes]):
        self._head, self._rest = memoryview(head), rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if len(self._head):
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def _check_start(data: bytes) -> None:
    """_Unreadable for an empty file, or a binary one (NUL bytes at its start, no UTF-16 mark)."""
    if not data.strip():
        raise _Unreadable("empty file")
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _Unreadable("binary file, not text (NUL bytes); convert it to text first")


def _over(what: str, limit: int, unit: str) -> str:
    option = "--max-file-size" if what == "file" else "--max-article-size"
    return (f"{unit} is over the {what} size limit of {human_size(limit)}: not read (raise "
            f"{option} to read it)")


def _path_id(file: Path, root: Path) -> str:
    rel = printable(file.relative_to(root).as_posix())
    for suffix in (".gz", *FORMATS):
        rel = rel.removesuffix(suffix)
    return rel


def _inside(path: Path, root: Path) -> bool:
    """Whether path, its links resolved, lies in the folder root (links resolved too)."""
    target, real_root = Path(os.path.realpath(path)), Path(os.path.realpath(root))
    return target == real_root or real_root in target.parents


def _sidecar(source: _Source) -> dict[str, Any]:
    file = source.path
    stem = file.name.removesuffix(".gz")
    stem = stem[: -len(Path(stem).suffix)] if Path(stem).suffix else stem
    meta = file.with_name(stem + SIDECAR_SUFFIX)
    if not os.path.lexists(meta):
        return {}
    where = printable(meta)
    if not source.options.follow_links and not _inside(meta, source.root):
        raise RecordError(f"metadata file {where} is a link to outside the archive: not read "
                          "(pass --follow-links to read what links lead to)")
    try:
        with _open(meta, False) as stream:
            raw = stream.read(MAX_SIDECAR_BYTES + 1)
        if len(raw) > MAX_SIDECAR_BYTES:
            raise RecordError(f"metadata file {where} is over {human_size(MAX_SIDECAR_BYTES)}")
        data = json.loads(raw.decode("utf-8-sig"))
    except _Unreadable as exc:
        raise RecordError(f"metadata file {where}: {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise RecordError(f"metadata file {where} is not valid JSON ({exc}); fix or remove it") \
            from None
    if not isinstance(data, dict):
        raise RecordError(f"metadata file {where} must hold a JSON object")
    return data


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        meta = yaml.safe_load(match.group(1))
    except (yaml.YAMLError, RecursionError):
        return {}, text  # not front matter after all: keep it as text
    if not isinstance(meta, dict):
        return {}, text
    # YAML turns "date: 2016-12-05" into a date object: keep it as its ISO text.
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in meta.items()}, \
        text[match.end():]


Item = Article | Skipped


def _one(record: dict[str, Any], source: _Source, default_id: str) -> Iterator[Item]:
    try:
        record = {**record, **_sidecar(source)}
        yield make_article(record, origin=source.where, default_id=default_id,
                           max_bytes=source.options.max_article_bytes)
    except RecordError as exc:
        yield Skipped(source.where, str(exc))


def read_plain_text(source: _Source, default_id: str, options: ReadOptions) -> Iterator[Item]:
    """A text file: optional front matter, the headline on the first line, then the story."""
    meta, body = _front_matter(source.whole(options.max_article_bytes, "article"))
    lines = body.strip().split("\n", 1)
    if "title" not in {str(k).lower() for k in meta}:
        meta["title"] = lines[0]
        body = lines[1] if len(lines) > 1 else ""
    yield from _one({**meta, "text": body}, source, default_id)


_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", re.M)
# Link and image texts stop at the next "[" and addresses at the next "(": each attempt ends
# where the next can start, so a run of brackets is read in linear time (100,000 "[" took 34 s).
_MD_INLINE = [
    (re.compile(r"!\[[^\][]*\]\([^()]*\)"), ""),  # images
    (re.compile(r"\[([^\][]+)\]\([^()]*\)"), r"\1"),  # links keep their words
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),
    (re.compile(r"(?<![\w*])([*_])(?!\s)(.+?)(?<!\s)\1(?![\w*])"), r"\2"),
    (re.compile(r"`([^`]*)`"), r"\1"),
    (re.compile(r"^\s{0,3}(>\s?|[-*+]\s+|\d+\.\s+)", re.M), ""),
    (re.compile(r"^\s*([-*_]\s*){3,}$", re.M), ""),  # rules
    (re.compile(r"^\s*```.*$", re.M), ""),
]


def read_markdown(source: _Source, default_id: str, options: ReadOptions) -> Iterator[Item]:
    """A Markdown file: front matter, a '# headline' (or the first line), then the story."""
    meta, body = _front_matter(source.whole(options.max_article_bytes, "article"))
    if "title" not in {str(k).lower() for k in meta}:
        heading = _MD_HEADING.search(body)
        first = body.strip().split("\n", 1)
        if heading and not body[: heading.start()].strip():
            meta["title"] = heading.group(1)
            body = body[heading.end():]
        else:
            meta["title"] = first[0]
            body = first[1] if len(first) > 1 else ""
    body = _MD_HEADING.sub(r"\1", body)
    for pattern, repl in _MD_INLINE:
        body = pattern.sub(repl, body)
    yield from _one({**meta, "text": body}, source, default_id)


def read_html(source: _Source, default_id: str, options: ReadOptions) -> Iterator[Item]:
    """An HTML page: its main text and metadata, without scripts, navigation and comments."""
    import trafilatura  # imported here: it is slow to import and only HTML needs it

    text = source.whole(options.max_file_bytes, "file")
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    doc = trafilatura.bare_extraction(text, with_metadata=True, include_comments=False,
                                      include_tables=False, favor_recall=True)
    data = doc.as_dict() if hasattr(doc, "as_dict") else (doc or {})
    if not data.get("text"):
        yield Skipped(source.where, "no article text found in the HTML page")
        return
    record = {"title": data.get("title") or "", "text": data["text"], "url": data.get("url") or "",
              "source": data.get("sitename") or "", "date": data.get("date") or ""}
    yield from _one({k: v for k, v in record.items() if v}, source, default_id)


def _json(text: str) -> Any:
    """json.loads, with nesting too deep for Python's parser as a ValueError."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply to be an article (over about 1,000 levels)") from None


def read_json(source: _Source, default_id: str, options: ReadOptions) -> Iterator[Item]:
    """A JSON file: one article object, a list of them, or an object holding such a list."""
    try:
        data = _json(source.whole(options.max_file_bytes, "file"))
    except json.JSONDecodeError as exc:
        yield Skipped(f"{source.where}:{exc.lineno}",
                      f"invalid JSON at column {exc.colno}: {exc.msg}")
        return
    except ValueError as exc:
        yield Skipped(source.where, f"invalid JSON: {exc}")
        return
    if isinstance(data, dict):
        for key in _JSON_LIST_KEYS:
            if isinstance(data.get(key), list):
                data = data[key]
                break
    if isinstance(data, dict):
        yield from _one(data, source, default_id)
        return
    if not isinstance(data, list):
        yield Skipped(source.where, f"JSON holds a {type(data).__name__}, not articles")
        return
    for i, record in enumerate(data):
        try:
            yield make_article(record, origin=f"{source.where}[{i}]",
                               max_bytes=options.max_article_bytes)
        except RecordError as exc:
            yield Skipped(f"{source.where}[{i}]", str(exc))


def read_jsonl(source: _Source, default_id: str, options: ReadOptions) -> Iterator[Item]:
    """A JSON Lines file: one article object a line; a bad line is skipped, not the file."""
    for lineno, line in source.lines(newline=None):
        where = f"{source.where}:{lineno}"
        if line is None:
            yield Skipped(where, _over("article", options.max_article_bytes, "line"))
            continue
        if not line.strip():
            continue
        try:
            record = _json(line)
        except json.JSONDecodeError as exc:
            yield Skipped(where, f"invalid JSON at column {exc.colno}: {exc.msg}")
            continue
        except ValueError as exc:
            yield Skipped(where, f"invalid JSON: {exc}")
            continue
        try:
            yield make_article(record, origin=where, max_bytes=options.max_article_bytes)
        except RecordError as exc:
            yield Skipped(where, str(exc))


class _LongLine(Exception):
    pass


class _PhysicalLines:
    """The file's lines for the csv module, numbered; a line over the article limit raises
    _LongLine instead (the csv reader starts its next row afresh after an error)."""

    def __init__(self, lines: Iterator[tuple[int, str | None]]):
        self._lines = lines
        self.lineno = 0

    def __iter__(self) -> "_PhysicalLines":
        return self

    def __next__(self) -> str:
        self.lineno, line = next(self._lines)
        if line is None:
            raise _LongLine
        return line


def _read_delimited(source: _Source, options: ReadOptions, dialect: str) -> Iterator[Item]:
    csv.field_size_limit(max(options.max_article_bytes, 131072))
    lines = _PhysicalLines(source.lines(newline=""))
    reader = csv.reader(lines, dialect=dialect)
    try:
        header = next(reader)
    except StopIteration:
        header = []
    except (csv.Error, _LongLine) as exc:
        yield Skipped(source.where, f"not readable as CSV: {exc or 'header line too long'}")
        return
    if not any(h.strip() for h in header):
        yield Skipped(source.where, "no header row")
        return
    while True:
        first = lines.lineno + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except _LongLine:
            yield Skipped(f"{source.where}:{lines.lineno}",
                          _over("article", options.max_article_bytes, "line"))
            continue
        except csv.Error as exc:
            why = _over("article", options.max_article_bytes, "a field") \
                if "field limit" in str(exc) else f"CSV error: {exc}"
            yield Skipped(f"{source.where}:{first}", f"{why}; the rest of the file is skipped")
            return
        if not row:
            continue
        record = {name: value for name, value in zip(header, row)}  # cells beyond it dropped
        try:
            yield make_article(record, origin=f"{source.where}:{first}",
                               max_bytes=options.max_article_bytes)
        except RecordError as exc:
            yield Skipped(f"{source.where}:{first}", str(exc))


def read_csv(source: _Source, default_id: str, options: ReadOptions) -> Iterator[Item]:
    """A CSV file with a header row naming the fields; one article a row."""
    yield from _read_delimited(source, options, "excel")


def read_tsv(source: _Source, default_id: str, options: ReadOptions) -> Iterator[Item]:
    """A tab-separated file with a header row; one article a row."""
    yield from _read_delimited(source, options, "excel-tab")


READERS: dict[str, Callable[[_Source, str, ReadOptions], Iterator[Item]]] = {
    "text": read_plain_text, "markdown": read_markdown, "html": read_html, "json": read_json,
    "jsonl": read_jsonl, "csv": read_csv, "tsv": read_tsv,
}
