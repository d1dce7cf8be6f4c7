"""One error shape: JSON under /api/, an HTML page elsewhere, and never a stack trace."""

from __future__ import annotations

import logging
from typing import Iterable

from flask import Flask, jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from indexer import IndexerError, QueryError

from .access_log import asked

log = logging.getLogger(__name__)


def _respond(status: int, message: str, headers: Iterable[tuple[str, str]] = ()):
    if request.path.startswith("/api/"):
        response = jsonify({"error": {"status": status, "message": message}})
    else:
        response = make_response(render_template("error.html", status=status, message=message))
    response.status_code = status
    response.headers.extend(headers)
    return response


def register(app: Flask) -> None:
    """Install the error handlers on app."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        # The exception's own headers (a 405's Allow, say), but not its HTML's content type.
        kept = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        return _respond(exc.code or 500, exc.description or exc.name, kept)

    @app.errorhandler(QueryError)
    def query_error(exc: QueryError):
        return _respond(400, str(exc))

    @app.errorhandler(IndexerError)
    def index_error(exc: IndexerError):
        # No usable index (none built yet, another model's, a damaged file): the service is
        # up but cannot answer; the message says how to fix it.
        log.error("index unavailable: %s", exc)
        return _respond(ServiceUnavailable.code, str(exc))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, asked())
        return _respond(InternalServerError.code, "internal error; it has been logged")
