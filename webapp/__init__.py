"""The news-search web app: a search page, an article page and a JSON API over one index folder."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from indexer import IndexerError, Searcher
from indexer.storage.indexdir import current_name

from .jsonout import OrjsonProvider

_searcher_lock = threading.Lock()


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Make the app: defaults, then NEWS_SEARCH_* environment variables, then test_config."""
    app = Flask(__name__)
    app.json = OrjsonProvider(app)
    app.config.from_mapping(INDEX_DIR="index", MODEL=None,
                            MAX_CONTENT_LENGTH=64 * 1024)  # searches are GETs: bodies stay small
    app.config.from_prefixed_env("NEWS_SEARCH")
    if test_config:
        app.config.from_mapping(test_config)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    from . import access_log, api, errors, fairness, pages, security, watching

    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(watching.bp)
    errors.register(app)
    security.register(app)
    access_log.register(app)
    fairness.register(app)
    return app


RETRY_SECONDS = 5.0  # how long a failure to open the same build is answered before trying again


def get_searcher() -> Searcher:
    """The app's Searcher, opened on first use; an IndexerError if no usable index exists yet.

    A failure is kept while CURRENT names the same build (up to RETRY_SECONDS): once an index
    is built, the next request finds it, and a damaged one is not reloaded for every request.
    """
    searcher = current_app.extensions.get("news_search")
    if searcher is None:
        with _searcher_lock:
            searcher = current_app.extensions.get("news_search")
            index_dir = Path(current_app.config["INDEX_DIR"])
            name = current_name(index_dir)
            failed = current_app.extensions.get("news_search_failed")
            if searcher is None and failed and failed[0] == name \
                    and time.monotonic() - failed[1] < RETRY_SECONDS:
                raise failed[2]
            if searcher is None:
                try:
                    searcher = Searcher(index_dir, model=current_app.config["MODEL"],
                                        embedder=current_app.config.get("EMBEDDER"),
                                        backend=current_app.config.get("BACKEND"))
                except IndexerError as exc:
                    current_app.extensions["news_search_failed"] = (name, time.monotonic(), exc)
                    raise
                current_app.extensions["news_search"] = searcher
    return searcher
