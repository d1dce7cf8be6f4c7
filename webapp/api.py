"""The JSON API: /api/search, /api/health and the OpenAPI document that describes them."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from . import get_searcher
from .openapi import openapi_document
from .params import search_args, timeline_args

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/search")
def search():
    """Ranked passages for q.

    Errors: 400 for a missing, empty or over-long q, a k outside 1..100 or not a number, a bad
    mode, group, page or date, an unknown parameter; 503 when no usable index is loaded.
    """
    return jsonify(get_searcher().search(**search_args(request.args, strict=True)).to_dict())


@bp.get("/health")
def health():
    """Whether an index is loaded, and what it holds: status "ok", or "degraded" with the
    problem (a build that did not load, an older one served); 503 with the reason when none is."""
    return jsonify(get_searcher().health())


@bp.get("/timeline")
def timeline():
    """How many of the best matching stories fall in each day, week, month or year.

    Errors: 400 for a bad q, mode, date, interval or stories, an unknown parameter; 503 when
    no usable index is loaded.
    """
    kwargs = timeline_args(request.args)
    result = get_searcher().timeline(**kwargs)
    return jsonify({"query": kwargs["query"], "filters": kwargs["filters"].to_dict(),
                    **result.to_dict()})


@bp.get("/sources")
def sources():
    """The outlets in the index with their article counts; 503 when no index is loaded."""
    return jsonify({"sources": [{"source": s, "articles": n} for s, n in get_searcher().sources()]})


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 document of this API."""
    return jsonify(openapi_document(request.host_url.rstrip("/")))
