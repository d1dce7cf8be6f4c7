"""Reading an archive (files or folders of text, Markdown, HTML, JSON, JSONL, CSV) into Articles."""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import re
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import yaml
from charset_normalizer import from_bytes

from .articles import Article, RecordError, make_article

FORMATS = {
    ".txt": "text", ".text": "text",
    ".md": "markdown", ".markdown": "markdown",
    ".html": "html", ".htm": "html", ".xhtml": "html",
    ".json": "json",
    ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".csv": "csv", ".tsv": "tsv",
}
SIDECAR_SUFFIX = ".meta.json"  # "story.meta.json" beside "story.txt" gives its date, source, url
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
    """What reading an archive found: files read, articles produced, and what was skipped."""

    files: int = 0
    articles: int = 0
    skipped: list[Skipped] = field(default_factory=list)

    def skip(self, where: str, reason: str) -> None:
        """Record one skipped file or record."""
        self.skipped.append(Skipped(where, reason))


class ArchiveError(Exception):
    """The archive as a whole cannot be read (a missing path, say)."""


def archive_files(paths: Iterable[Path], report: ReadReport) -> Iterator[tuple[Path, Path]]:
    """Yield (file, root) for every readable article file under the given files and folders."""
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise ArchiveError(f"{path}: no such file or folder")
        if path.is_file():
            yield path, path.parent
            continue
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            rel = file.relative_to(path)
            if any(part.startswith(".") for part in rel.parts) or file.name.endswith(SIDECAR_SUFFIX):
                continue  # hidden files and metadata sidecars are not articles
            if _NOT_ARTICLES.match(file.name):
                report.skip(str(file), "looks like documentation (README, LICENSE...), not an article")
                continue
            if file_format(file) is None:
                report.skip(str(file), f"unsupported file type '{''.join(file.suffixes) or file.name}';"
                            f" supported: {', '.join(sorted(FORMATS))} (optionally .gz)")
                continue
            yield file, path


def file_format(path: Path) -> str | None:
    """The reader for a file by its suffix (a trailing .gz is looked through), or None."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return FORMATS.get(suffixes[-1]) if suffixes else None


def read_archive(paths: Iterable[Path], report: ReadReport) -> Iterator[Article]:
    """Yield every article in the given files and folders; what cannot be read goes to report."""
    for file, root in archive_files(paths, report):
        fmt = file_format(file)
        if fmt is None:
            report.skip(str(file), f"unsupported file type; supported: {', '.join(sorted(FORMATS))}")
            continue
        try:
            text = _read_text(file)
        except _Unreadable as exc:
            report.skip(str(file), str(exc))
            continue
        report.files += 1
        default_id = _path_id(file, root)
        for item in READERS[fmt](text, file, default_id):
            if isinstance(item, Skipped):
                report.skipped.append(item)
            else:
                report.articles += 1
                yield item


class _Unreadable(Exception):
    pass


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _Unreadable(f"cannot read: {exc.strerror or exc}") from exc
    if path.suffix.lower() == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise _Unreadable(f"not a valid gzip file ({exc}); re-compress it or remove .gz") from exc
    if not data.strip():
        raise _Unreadable("empty file")
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _Unreadable("binary file, not text (NUL bytes); convert it to text first")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        guess = from_bytes(data).best()
        if guess is None:
            raise _Unreadable("not text in any known encoding; save it as UTF-8") from None
        return str(guess)


def _path_id(file: Path, root: Path) -> str:
    rel = file.relative_to(root).as_posix()
    for suffix in (".gz", *FORMATS):
        rel = rel.removesuffix(suffix)
    return rel


def _sidecar(file: Path) -> dict[str, Any]:
    stem = file.name.removesuffix(".gz")
    stem = stem[: -len(Path(stem).suffix)] if Path(stem).suffix else stem
    meta = file.with_name(stem + SIDECAR_SUFFIX)
    if not meta.is_file():
        return {}
    try:
        data = json.loads(meta.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise RecordError(f"metadata file {meta} is not valid JSON ({exc}); fix or remove it") from exc
    if not isinstance(data, dict):
        raise RecordError(f"metadata file {meta} must hold a JSON object")
    return data


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return {}, text  # not front matter after all: keep it as text
    if not isinstance(meta, dict):
        return {}, text
    # YAML turns "date: 2016-12-05" into a date object: keep it as its ISO text.
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in meta.items()}, \
        text[match.end():]


Item = Article | Skipped


def _one(record: dict[str, Any], file: Path, default_id: str) -> Iterator[Item]:
    try:
        record = {**record, **_sidecar(file)}
        yield make_article(record, origin=str(file), default_id=default_id)
    except RecordError as exc:
        yield Skipped(str(file), str(exc))


def read_plain_text(text: str, file: Path, default_id: str) -> Iterator[Item]:
    """A text file: optional front matter, the headline on the first line, then the story."""
    meta, body = _front_matter(text)
    lines = body.strip().split("\n", 1)
    if "title" not in {k.lower() for k in meta}:
        meta["title"] = lines[0]
        body = lines[1] if len(lines) > 1 else ""
    yield from _one({**meta, "text": body}, file, default_id)


_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", re.M)
_MD_INLINE = [
    (re.compile(r"!\[[^\]]*\]\([^)]*\)"), ""),  # images
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links keep their words
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),
    (re.compile(r"(?<![\w*])([*_])(?!\s)(.+?)(?<!\s)\1(?![\w*])"), r"\2"),
    (re.compile(r"`([^`]*)`"), r"\1"),
    (re.compile(r"^\s{0,3}(>\s?|[-*+]\s+|\d+\.\s+)", re.M), ""),
    (re.compile(r"^\s*([-*_]\s*){3,}$", re.M), ""),  # rules
    (re.compile(r"^\s*```.*$", re.M), ""),
]


def read_markdown(text: str, file: Path, default_id: str) -> Iterator[Item]:
    """A Markdown file: front matter, a '# headline' (or the first line), then the story."""
    meta, body = _front_matter(text)
    if "title" not in {k.lower() for k in meta}:
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
    yield from _one({**meta, "text": body}, file, default_id)


def read_html(text: str, file: Path, default_id: str) -> Iterator[Item]:
    """An HTML page: its main text and metadata, without scripts, navigation and comments."""
    import trafilatura  # imported here: it is slow to import and only HTML needs it

    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    doc = trafilatura.bare_extraction(text, with_metadata=True, include_comments=False,
                                      include_tables=False, favor_recall=True)
    data = doc.as_dict() if hasattr(doc, "as_dict") else (doc or {})
    if not data.get("text"):
        yield Skipped(str(file), "no article text found in the HTML page")
        return
    record = {"title": data.get("title") or "", "text": data["text"], "url": data.get("url") or "",
              "source": data.get("sitename") or "", "date": data.get("date") or ""}
    yield from _one({k: v for k, v in record.items() if v}, file, default_id)


def read_json(text: str, file: Path, default_id: str) -> Iterator[Item]:
    """A JSON file: one article object, a list of them, or an object holding such a list."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        yield Skipped(f"{file}:{exc.lineno}", f"invalid JSON at column {exc.colno}: {exc.msg}")
        return
    if isinstance(data, dict):
        for key in _JSON_LIST_KEYS:
            if isinstance(data.get(key), list):
                data = data[key]
                break
    if isinstance(data, dict):
        yield from _one(data, file, default_id)
        return
    if not isinstance(data, list):
        yield Skipped(str(file), f"JSON holds a {type(data).__name__}, not articles")
        return
    for i, record in enumerate(data):
        try:
            yield make_article(record, origin=f"{file}[{i}]")
        except RecordError as exc:
            yield Skipped(f"{file}[{i}]", str(exc))


def read_jsonl(text: str, file: Path, default_id: str) -> Iterator[Item]:
    """A JSON Lines file: one article object a line; a bad line is skipped, not the file."""
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{file}:{lineno}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Skipped(where, f"invalid JSON at column {exc.colno}: {exc.msg}")
            continue
        try:
            yield make_article(record, origin=where)
        except RecordError as exc:
            yield Skipped(where, str(exc))


def _read_delimited(text: str, file: Path, dialect: str) -> Iterator[Item]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    stream = io.StringIO(text, newline="")
    reader = csv.DictReader(stream, dialect=dialect)
    try:
        header = reader.fieldnames
    except csv.Error as exc:
        yield Skipped(str(file), f"not readable as CSV: {exc}")
        return
    if not header:
        yield Skipped(str(file), "no header row")
        return
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Skipped(f"{file}:{line}", f"CSV error: {exc}; the rest of the file is skipped")
            return
        row.pop(None, None)  # cells beyond the header
        try:
            yield make_article({k: v for k, v in row.items() if v is not None},
                               origin=f"{file}:{reader.line_num}")
        except RecordError as exc:
            yield Skipped(f"{file}:{reader.line_num}", str(exc))


def read_csv(text: str, file: Path, default_id: str) -> Iterator[Item]:
    """A CSV file with a header row naming the fields; one article a row."""
    yield from _read_delimited(text, file, "excel")


def read_tsv(text: str, file: Path, default_id: str) -> Iterator[Item]:
    """A tab-separated file with a header row; one article a row."""
    yield from _read_delimited(text, file, "excel-tab")


READERS: dict[str, Callable[[str, Path, str], Iterator[Item]]] = {
    "text": read_plain_text, "markdown": read_markdown, "html": read_html, "json": read_json,
    "jsonl": read_jsonl, "csv": read_csv, "tsv": read_tsv,
}
