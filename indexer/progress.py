"""Progress of long work: a bar on a terminal, a plain line every few seconds in a log."""

from __future__ import annotations

import io
import sys
from typing import Any, TextIO

from tqdm import tqdm

LOG_INTERVAL = 10.0  # seconds between lines where the output is not a terminal


class _PlainLines(io.TextIOBase):
    """What tqdm writes, as whole lines: its carriage returns become line ends, and the blanks
    it writes to clear a bar are dropped."""

    def __init__(self, out: TextIO):
        self._out = out

    def write(self, text: str) -> int:
        for part in text.replace("\r", "\n").split("\n"):
            if part.strip():
                self._out.write(part.rstrip() + "\n")
        return len(text)

    def flush(self) -> None:
        self._out.flush()


def progress_bar(iterable: Any = None, **options: Any) -> tqdm:
    """tqdm, drawn as a bar on a terminal; elsewhere written as plain lines, so that a log reads
    line by line and a message after it starts on a line of its own."""
    out = sys.stderr
    if not options.get("disable") and not out.isatty():
        options = {"mininterval": LOG_INTERVAL, "delay": LOG_INTERVAL, **options,
                   "file": _PlainLines(out), "ascii": True, "ncols": 100}
    return tqdm(iterable, **options)


def say(message: str) -> None:
    """A line for the person watching, on standard error (standard output may be JSON), above
    any bar being drawn."""
    tqdm.write(message, file=sys.stderr)
