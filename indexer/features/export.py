"""Results as rows: CSV or JSON Lines of a whole ranked list, or of a batch's answers."""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Iterable, Iterator

from indexer.filters import Filters
from indexer.search.checks import DEFAULT_MODE, MAX_K
from indexer.search.results import Hit
from indexer.search.searcher import Searcher

FORMATS = ("csv", "jsonl")
# The columns of a result row (a batch puts its input's columns first, and an error last).
COLUMNS = ("question", "rank", "score", "title", "source", "date", "url", "article_id",
           "passage", "answer", "error")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


def hit_row(hit: Hit) -> dict[str, Any]:
    """A result as a row: rank, score, headline, outlet, date, link, id, passage, answer."""
    return {k: v for k, v in hit.fields().items() if k != "position"}


def all_results(searcher: Searcher, query: str, mode: str = DEFAULT_MODE,
                filters: Filters = Filters(), group: str = "article", sort: str = "relevance",
                recency: int | None = None, page_size: int = MAX_K, matching_only: bool = True
                ) -> Iterator[dict[str, Any]]:
    """Every story that matches the question (search/matching.py), as rows, best first; with
    matching_only=False, every result of the ranked list a search pages through. Pages of
    page_size are cut from one pool: none repeats or goes missing."""
    page = 1
    while True:
        result = searcher.search(query, page_size, mode, filters, group, page, sort, recency,
                                 matching_only=matching_only)
        for hit in result.hits:
            yield {"question": query, **hit_row(hit)}
        if not result.has_more:
            return
        page += 1


def write_rows(rows: Iterable[dict[str, Any]], out: io.TextIOBase, fmt: str,
               extra: Iterable[str] = (), columns: Iterable[str] = COLUMNS,
               file: bool = False) -> int:
    """Write the rows as CSV (a header of extra + COLUMNS) or JSON Lines; how many. file: the
    CSV is a file a person opens (a download, --output): it starts with a byte order mark, by
    which spreadsheets know it is UTF-8 and show its accents."""
    count = 0
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
        return count
    if file:
        out.write("\ufeff")
    writer = csv.DictWriter(out, fieldnames=[*extra, *columns], extrasaction="ignore")
    writer.writerow({name: _inert(name) for name in writer.fieldnames})  # a header cell too
    for row in rows:
        writer.writerow({key: _inert(value) for key, value in row.items()})
        count += 1
    return count


def _inert(value: Any) -> Any:
    """A cell a spreadsheet would run as a formula (=, +, -, @ first) made text with a leading
    quote, as OWASP advises for CSV files: an archive's headline is never a command."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
