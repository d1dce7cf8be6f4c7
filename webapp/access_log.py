"""One log line per request: who asked what, the answer's status and how long it took; and
every line a request logs bounded, whatever it holds."""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

log = logging.getLogger("news_search.access")
ASKED_CHARS = 300  # of a request's path and query string, in any line about it
MAX_LINE_CHARS = 2000  # of a logged message; a traceback's lines are cut to this each
MAX_TRACEBACK_LINES = 60


def asked() -> str:
    """The request's path and query string, cut so that a 100 kB query cannot flood the log."""
    text = request.full_path.rstrip("?")
    return text if len(text) <= ASKED_CHARS else text[:ASKED_CHARS] + "..."


class Bounded(logging.Filter):
    """Cuts a record's message, and its traceback's lines, so that no request's data makes a
    log line longer than MAX_LINE_CHARS (an exception's text may hold the whole request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if len(message) > MAX_LINE_CHARS:
            record.msg, record.args = message[:MAX_LINE_CHARS] + "... (cut)", None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            lines = [line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + "..."
                     for line in record.exc_text.splitlines()]
            if len(lines) > MAX_TRACEBACK_LINES:
                lines = lines[:MAX_TRACEBACK_LINES // 2] + ["  ..."] + \
                    lines[-MAX_TRACEBACK_LINES // 2:]
            record.exc_text = "\n".join(lines)
        return True


def bound_handlers() -> None:
    """Put Bounded on the root logger's handlers (once each)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, Bounded) for f in handler.filters):
            handler.addFilter(Bounded())


def register(app: Flask) -> None:
    """Time every request and log it when it is answered; bound every line."""
    bound_handlers()

    @app.before_request
    def start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def log_request(response: Response) -> Response:
        took = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        log.info("%s %s %s %d %.1fms", request.remote_addr, request.method, asked(),
                 response.status_code, took)
        return response
