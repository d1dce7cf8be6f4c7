"""Many questions at once: each answered by its best results, a failure said in its own row."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from indexer.errors import IndexerError, QueryError
from indexer.filters import Filters
from indexer.features.export import COLUMNS, hit_row
from indexer.reading.streams import bom_encoding
from indexer.search.checks import DEFAULT_MODE
from indexer.search.results import Hit
from indexer.search.searcher import Searcher

MAX_QUESTIONS = 100_000  # in one file: a list of names or questions, not an archive
MAX_LINE_CHARS = 128 * 1024  # a question and its cells (csv's own field limit is global state)
QUESTION_COLUMNS = ("question", "query", "q", "questions", "queries")  # a CSV's, any case


class BatchError(IndexerError):
    """A file of questions that cannot be read (the message names the file and line)."""


@dataclass(frozen=True)
class Question:
    """One question of a batch, with the other columns of its row (kept in the output)."""

    text: str
    line: int
    extra: dict[str, str] = field(default_factory=dict)
    problem: str = ""  # why its line could not be read: answered by a row saying so


def read_questions(path: Path) -> list[Question]:
    """The questions of a file: a CSV or TSV (by its suffix) with a column named question,
    query or q (any case; else its first column), or plain text with one question a line.
    Blank lines are dropped; a line the CSV reader cannot read is a BatchError naming it."""
    path = Path(path)
    try:
        text = decoded(path.read_bytes())
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchError(f"cannot read {path}: {exc}: give a UTF-8 text or CSV file, one "
                         "question a line") from None
    return questions_in(text, path)


def decoded(data: bytes) -> str:
    """A questions file's text: UTF-8, or UTF-16 or UTF-32 where its byte order mark says so
    (a spreadsheet's "Unicode text"); UnicodeDecodeError for anything else."""
    return data.decode(bom_encoding(data) or "utf-8")


def questions_in(text: str, path: Path, limit: int = MAX_QUESTIONS) -> list[Question]:
    """The questions of a file's text (path: its name, whose suffix says CSV, TSV or lines);
    at most limit of them, else a BatchError."""
    if path.suffix.lower() not in (".csv", ".tsv"):
        questions = [Question(line.strip(), n) for n, line in enumerate(text.splitlines(), 1)
                     if line.strip()]
    else:
        questions = _csv_questions(path, text, "\t" if path.suffix.lower() == ".tsv" else ",")
    if not questions:
        raise BatchError(f"{path} holds no question: write one a line (or a CSV with a "
                         "'question' column)")
    if len(questions) > limit:
        raise BatchError(f"{path} holds {len(questions):,} questions; at most "
                         f"{limit:,} a batch: split it")
    return questions


def _csv_questions(path: Path, text: str, delimiter: str) -> list[Question]:
    """A row a line: a line the CSV reader cannot read (an unterminated quote, a field over
    the reader's limit, a NUL) is a question of its own whose answer says why, and cannot
    swallow the lines after it."""
    lines = text.splitlines()
    header = next(iter(_rows(lines[:1], delimiter)), None) if lines else None
    if not header or isinstance(header, str):
        return []
    names = [h.strip() for h in header]
    column = next((i for i, h in enumerate(names) if h.lower() in QUESTION_COLUMNS), 0)
    # An input column named as one of ours (a "source" of its own, say) is kept beside it.
    names = [f"input {n}" if n.lower() in COLUMNS and i != column else n
             for i, n in enumerate(names)]
    questions = []
    for number, line in enumerate(lines[1:], 2):
        row = next(iter(_rows([line], delimiter)), [])
        if isinstance(row, str):
            questions.append(Question("", number, problem=row))  # not searched: "" fails
            continue
        if not any(cell.strip() for cell in row):
            continue
        cells = row + [""] * (len(names) - len(row))
        extra = {name: cells[i] for i, name in enumerate(names) if i != column and name}
        questions.append(Question(cells[column].strip(), number, extra))
    return questions


def _rows(lines: list[str], delimiter: str) -> Iterator[list[str] | str]:
    """Each line's cells, or why the line cannot be read."""
    for line in lines:
        if "\x00" in line:
            yield "the line holds a NUL character: save the file as text"
            continue
        if len(line) > MAX_LINE_CHARS:
            yield (f"the line is {len(line):,} characters long, over the limit of "
                   f"{MAX_LINE_CHARS:,}: shorten its cells")
            continue
        try:
            row = next(csv.reader([line], delimiter=delimiter, strict=True), [])
        except csv.Error as exc:
            yield f"{exc}: a question and its cells go on one line, quotes closed"
            continue
        yield row


def answer_each(searcher: Searcher, questions: Iterable[str], k: int = 3,
                mode: str = DEFAULT_MODE, filters: Filters = Filters()
                ) -> Iterator[tuple[list[Hit], str | None]]:
    """Each question's best k results and None, or no result and why it failed (an empty or
    over-long question), in the questions' order: a failure never stops the others."""
    for question in questions:
        try:
            yield searcher.search(question, k, mode, filters).hits, None
        except QueryError as exc:
            yield [], str(exc)


def answer_all(searcher: Searcher, questions: Iterable[Question], k: int = 3,
               mode: str = DEFAULT_MODE, filters: Filters = Filters(),
               progress: Callable[[int], None] | None = None) -> Iterator[dict[str, Any]]:
    """For each question, a row for each of its best k results (the input's other columns
    first); a question that finds nothing has one row with no result, and one that fails has
    one row whose error says why. Rows come in the questions' order."""
    questions = list(questions)
    answers = answer_each(searcher, (q.text for q in questions), k, mode, filters)
    for question, (hits, problem) in zip(questions, answers):
        base = {**question.extra, "question": question.text}
        problem = question.problem or problem
        if problem:
            yield {
                **base,
                **dict.fromkeys(COLUMNS[1:], ""),
                "error": f"line {question.line}: {problem}",
            }
        elif not hits:
            yield {**base, **dict.fromkeys(COLUMNS[1:], ""), "error": ""}
        for hit in hits:
            yield {**base, **hit_row(hit), "error": ""}
        if progress:
            progress(1)
