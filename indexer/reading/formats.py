"""One reader a format family: plain text and Markdown, HTML, JSON and JSON Lines, CSV and
TSV."""

from __future__ import annotations

import csv
import json
import logging
import os
import re
from pathlib import Path
from typing import Any, Callable, Iterator

import yaml

from indexer.articles import Article, RecordError, make_article, printable
from indexer.reading.report import (
    FRONT_MATTER,
    JSON_LIST_KEYS,
    MAX_SIDECAR_BYTES,
    SIDECAR_SUFFIX,
    ReadOptions,
    Skipped,
    inside,
    over,
)
from indexer.reading.streams import InputFile, Unreadable, open_bytes
from indexer.sizes import human_size


def _sidecar(infile: InputFile) -> dict[str, Any]:
    file = infile.path
    stem = file.name.removesuffix(".gz")
    stem = stem[: -len(Path(stem).suffix)] if Path(stem).suffix else stem
    meta = file.with_name(stem + SIDECAR_SUFFIX)
    if not os.path.lexists(meta):
        return {}
    where = printable(meta)
    if not infile.options.follow_links and not inside(meta, infile.root):
        raise RecordError(f"metadata file {where} is a link to outside the archive: not read "
                          "(pass --follow-links to read what links lead to)")
    try:
        with open_bytes(meta, False) as stream:
            raw = stream.read(MAX_SIDECAR_BYTES + 1)
        if len(raw) > MAX_SIDECAR_BYTES:
            raise RecordError(f"metadata file {where} is over {human_size(MAX_SIDECAR_BYTES)}")
        data = json.loads(raw.decode("utf-8-sig"))
    except Unreadable as exc:
        raise RecordError(f"metadata file {where}: {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise RecordError(f"metadata file {where} is not valid JSON ({exc}); fix or remove it") \
            from None
    if not isinstance(data, dict):
        raise RecordError(f"metadata file {where} must hold a JSON object")
    return data


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    match = FRONT_MATTER.match(text)
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


def _made(record: Any, where: str, max_bytes: int | None, default_id: str = "") -> Item:
    """The article a record makes, or the record skipped with why (make_article's error)."""
    try:
        return make_article(record, origin=where, default_id=default_id, max_bytes=max_bytes)
    except RecordError as exc:
        return Skipped(where, str(exc))


def _one(record: dict[str, Any], infile: InputFile, default_id: str) -> Iterator[Item]:
    try:
        record = {**record, **_sidecar(infile)}
    except RecordError as exc:
        yield Skipped(infile.where, str(exc))
        return
    yield _made(record, infile.where, infile.options.max_article_bytes, default_id)


def read_plain_text(infile: InputFile, default_id: str, options: ReadOptions) -> Iterator[Item]:
    """A text file: optional front matter, the headline on the first line, then the story."""
    meta, body = _front_matter(infile.whole(options.max_article_bytes, "article"))
    lines = body.strip().split("\n", 1)
    if "title" not in {str(k).lower() for k in meta}:
        meta["title"] = lines[0]
        body = lines[1] if len(lines) > 1 else ""
    yield from _one({**meta, "text": body}, infile, default_id)


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


def read_markdown(infile: InputFile, default_id: str, options: ReadOptions) -> Iterator[Item]:
    """A Markdown file: front matter, a '# headline' (or the first line), then the story."""
    meta, body = _front_matter(infile.whole(options.max_article_bytes, "article"))
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
    yield from _one({**meta, "text": body}, infile, default_id)


def read_html(infile: InputFile, default_id: str, options: ReadOptions) -> Iterator[Item]:
    """An HTML page: its main text and metadata, without scripts, navigation and comments."""
    import trafilatura  # imported here: it is slow to import and only HTML needs it

    text = infile.whole(options.max_file_bytes, "file")
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    doc = trafilatura.bare_extraction(text, with_metadata=True, include_comments=False,
                                      include_tables=False, favor_recall=True)
    data = doc.as_dict() if hasattr(doc, "as_dict") else (doc or {})
    if not data.get("text"):
        yield Skipped(infile.where, "no article text found in the HTML page")
        return
    record = {"title": data.get("title") or "", "text": data["text"], "url": data.get("url") or "",
              "source": data.get("sitename") or "", "date": data.get("date") or ""}
    yield from _one({k: v for k, v in record.items() if v}, infile, default_id)


def _json(text: str) -> Any:
    """json.loads, with nesting too deep for Python's parser as a ValueError."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply to be an article (over about 1,000 levels)") from None


def read_json(infile: InputFile, default_id: str, options: ReadOptions) -> Iterator[Item]:
    """A JSON file: one article object, a list of them, or an object holding such a list."""
    try:
        data = _json(infile.whole(options.max_file_bytes, "file"))
    except json.JSONDecodeError as exc:
        yield Skipped(f"{infile.where}:{exc.lineno}",
                      f"invalid JSON at column {exc.colno}: {exc.msg}")
        return
    except ValueError as exc:
        yield Skipped(infile.where, f"invalid JSON: {exc}")
        return
    if isinstance(data, dict):
        for key in JSON_LIST_KEYS:
            if isinstance(data.get(key), list):
                data = data[key]
                break
    if isinstance(data, dict):
        yield from _one(data, infile, default_id)
        return
    if not isinstance(data, list):
        yield Skipped(infile.where, f"JSON holds a {type(data).__name__}, not articles")
        return
    for i, record in enumerate(data):
        yield _made(record, f"{infile.where}[{i}]", options.max_article_bytes)


def read_jsonl(infile: InputFile, default_id: str, options: ReadOptions) -> Iterator[Item]:
    """A JSON Lines file: one article object a line; a bad line is skipped, not the file."""
    for lineno, line in infile.lines(newline=None):
        where = f"{infile.where}:{lineno}"
        if line is None:
            yield Skipped(where, over("article", options.max_article_bytes, "line"))
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
        yield _made(record, where, options.max_article_bytes)


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


def _read_delimited(infile: InputFile, options: ReadOptions, dialect: str) -> Iterator[Item]:
    csv.field_size_limit(max(options.max_article_bytes, 131072))
    lines = _PhysicalLines(infile.lines(newline=""))
    reader = csv.reader(lines, dialect=dialect)
    try:
        header = next(reader)
    except StopIteration:
        header = []
    except (csv.Error, _LongLine) as exc:
        yield Skipped(infile.where, f"not readable as CSV: {exc or 'header line too long'}")
        return
    if not any(h.strip() for h in header):
        yield Skipped(infile.where, "no header row")
        return
    while True:
        first = lines.lineno + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except _LongLine:
            yield Skipped(f"{infile.where}:{lines.lineno}",
                          over("article", options.max_article_bytes, "line"))
            continue
        except csv.Error as exc:
            why = over("article", options.max_article_bytes, "a field") \
                if "field limit" in str(exc) else f"CSV error: {exc}"
            yield Skipped(f"{infile.where}:{first}", f"{why}; the rest of the file is skipped")
            return
        if not row:
            continue
        record = {name: value for name, value in zip(header, row)}  # cells beyond it dropped
        yield _made(record, f"{infile.where}:{first}", options.max_article_bytes)


def read_csv(infile: InputFile, default_id: str, options: ReadOptions) -> Iterator[Item]:
    """A CSV file with a header row naming the fields; one article a row."""
    yield from _read_delimited(infile, options, "excel")


def read_tsv(infile: InputFile, default_id: str, options: ReadOptions) -> Iterator[Item]:
    """A tab-separated file with a header row; one article a row."""
    yield from _read_delimited(infile, options, "excel-tab")


READERS: dict[str, Callable[[InputFile, str, ReadOptions], Iterator[Item]]] = {
    "text": read_plain_text, "markdown": read_markdown, "html": read_html, "json": read_json,
    "jsonl": read_jsonl, "csv": read_csv, "tsv": read_tsv,
}
