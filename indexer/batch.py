"""Many questions at once: each answered by its best results, a failure said in its own row."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .errors import IndexerError, QueryError
from .filters import Filters
from .export import COLUMNS, hit_row
from .search import DEFAULT_MODE, Hit, Searcher

MAX_QUESTIONS = 100_000  # in one file: a list of names or questions, not an archive
QUESTION_COLUMNS = ("question", "query", "q", "questions", "queries")  # a CSV's, any case


class BatchError(IndexerError):
    """A file of questions that cannot be read (the message names the file and line)."""


@dataclass(frozen=True)
class Question:
    """One question of a batch, with the other columns of its row (kept in the output)."""

    text: str
    line: int
    extra: dict[str, str] = field(default_factory=dict)


def read_questions(path: Path) -> list[Question]:
    """The questions of a file: a CSV or TSV (by its suffix) with a column named question,
    query or q (any case; else its first column), or plain text with one question a line.
    Blank lines are dropped; a line the CSV reader cannot read is a BatchError naming it."""
    path = Path(path)
    try:
        text = path.read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchError(f"cannot read {path}: {exc}: give a UTF-8 text or CSV file, one "
                         "question a line") from None
    if path.suffix.lower() not in (".csv", ".tsv"):
        questions = [Question(line.strip(), n) for n, line in enumerate(text.splitlines(), 1)
                     if line.strip()]
    else:
        questions = _csv_questions(path, text, "\t" if path.suffix.lower() == ".tsv" else ",")
    if not questions:
        raise BatchError(f"{path} holds no question: write one a line (or a CSV with a "
                         "'question' column)")
    if len(questions) > MAX_QUESTIONS:
        raise BatchError(f"{path} holds {len(questions):,} questions; at most "
                         f"{MAX_QUESTIONS:,} a batch: split it")
    return questions


def _csv_questions(path: Path, text: str, delimiter: str) -> list[Question]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        return []
    names = [h.strip() for h in header]
    column = next((i for i, h in enumerate(names) if h.lower() in QUESTION_COLUMNS), 0)
    # An input column named as one of ours (a "source" of its own, say) is kept beside it.
    names = [f"input {n}" if n.lower() in COLUMNS and i != column else n
             for i, n in enumerate(names)]
    questions = []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            cells = row + [""] * (len(names) - len(row))
            extra = {name: cells[i] for i, name in enumerate(names) if i != column and name}
            questions.append(Question(cells[column].strip(), reader.line_num, extra))
    except csv.Error as exc:
        raise BatchError(f"{path}:{reader.line_num}: {exc}: fix the line's quoting") from None
    return questions


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
        if problem:
            yield {**base, **dict.fromkeys(COLUMNS[1:], ""), "error": f"line {question.line}: {problem}"}
        elif not hits:
            yield {**base, **dict.fromkeys(COLUMNS[1:], ""), "error": ""}
        for hit in hits:
            yield {**base, **hit_row(hit), "error": ""}
        if progress:
            progress(1)
