"""One log line per request: who asked what, the answer's status and how long it took."""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

log = logging.getLogger("news_search.access")


def register(app: Flask) -> None:
    """Time every request and log it when it is answered."""

    @app.before_request
    def start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def log_request(response: Response) -> Response:
        took = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        # The query string is the question asked; cut it so a 100 kB query cannot flood the log.
        asked = request.full_path.rstrip("?")
        log.info("%s %s %s %d %.1fms", request.remote_addr, request.method,
                 asked if len(asked) <= 300 else asked[:300] + "...", response.status_code, took)
        return response
