"""The JSON API: /api/search, /api/batch, /api/timeline, /api/sources, /api/health and the
OpenAPI document that describes them."""

from __future__ import annotations

import io
import re

from flask import Blueprint, Response, abort, jsonify, request

from indexer import DEFAULT_MODE, check_mode, make_filters
from indexer.articles import printable
from indexer.errors import UnknownEntityError
from indexer.features.batch import answer_each
from indexer.search.timeline import timelines_json
from indexer.features.export import COLUMNS, MEDIA_TYPES, all_results, write_rows

from . import get_searcher
from .fairness import heavy, slices
from .openapi import openapi_document
from .params import export_args, facets_args, refuse_unknown, search_args, timeline_args

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/search")
def search():
    """Ranked passages for q.

    Errors: 400 for a missing, empty or over-long q, a k outside 1..100 or not a number, a bad
    mode, group, page or date, an unknown parameter; 503 when no usable index is loaded.
    """
    return jsonify(get_searcher().search(**search_args(request.args, strict=True)).to_dict())


MAX_BATCH = 100  # questions a POST /api/batch may hold (a worker answers them one after another)
BATCH_KEYS = ("questions", "k", "mode", "since", "until", "source", "language", "entity")


def _texts(body: dict, key: str, one: str = "a text", many: str = "texts") -> list[str]:
    """A JSON body's key as a list of texts (one text alone is a list of one); 400 saying it
    must be `one` or a list of `many` otherwise."""
    value = body.get(key, [])
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        abort(400, f"{key} must be {one} or a list of {many}")
    return value


@bp.post("/batch")
def batch():
    """Each question of a JSON body {"questions": [...], "k": 3, "mode", "since", "until",
    "source": [...]} answered by its best k results; a question that fails says why in its own
    entry, and the others are answered.

    Errors: 400 for a body that is not such an object, more than MAX_BATCH questions, a k
    outside 1..10, a bad mode, date or outlet; 413 for a body over 64 kB; 429 for a client with
    2 batches or exports under way; 503 when no usable index is loaded.
    """
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("questions"), list) \
            or not all(isinstance(q, str) for q in body["questions"]):
        abort(400, 'the body must be JSON: {"questions": ["a question", ...]} with optional '
                   "k, mode, since, until and source")
    refuse_unknown(body, BATCH_KEYS, "key")
    questions = body["questions"]
    if not 1 <= len(questions) <= MAX_BATCH:
        abort(400, f"a batch holds 1 to {MAX_BATCH} questions, not {len(questions)}: split it")
    k = body.get("k", 3)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 10:
        abort(400, f"k must be a whole number from 1 to 10, got {k!r}")
    sources = _texts(body, "source", "an outlet", "outlets")
    languages, entities = (_texts(body, key) for key in ("language", "entity"))
    mode = check_mode(body.get("mode", DEFAULT_MODE))
    filters = make_filters(str(body.get("since") or ""), str(body.get("until") or ""), sources,
                           languages, entities)
    searcher = get_searcher()
    searcher.check_filters(filters)  # a bad filter is the batch's 400, not every question's
    with heavy():
        answers = [{"question": printable(question), "error": problem,  # "\ud800": no 500
                    "results": [{**hit.to_dict(), "answer": hit.answer}
                                for hit in hits]}
                   for question, (hits, problem)
                   in zip(questions, slices(answer_each(searcher, questions, k, mode, filters)))]
    return jsonify({"k": k, "mode": mode, "filters": filters.to_dict(), "answers": answers})


EXPORT_SLICE = 20  # results an export makes between yields (fairness.py): a few ms of work


@bp.get("/export")
def export():
    """Every result of a search (all of its pages) as a CSV or JSON Lines download: q and the
    search's options, and format=csv (the default) or jsonl.

    Errors: 400 for a bad q, mode, date, outlet, group, sort or format, an unknown parameter;
    429 for a client with 2 batches or exports under way; 503 when no usable index is loaded.
    """
    kwargs, fmt = export_args(request.args)
    out = io.StringIO()  # written whole first: an error is still a 400, not half a file
    searcher = get_searcher()
    with heavy():
        write_rows(slices(all_results(searcher, **kwargs, page_size=EXPORT_SLICE), EXPORT_SLICE),
                   out, fmt, columns=COLUMNS[:-1], file=True)
    name = re.sub(r"[^A-Za-z0-9]+", "-", kwargs["query"]).strip("-")[:60] or "results"
    return Response(out.getvalue(), mimetype=MEDIA_TYPES[fmt].split(";")[0],
                    headers={"Content-Disposition":
                             f'attachment; filename="news-search-{name}.{fmt}"'})


@bp.get("/health")
def health():
    """Whether an index is loaded, and what it holds: status "ok", or "degraded" with the
    problem (a build that did not load, an older one served); 503 with the reason when none is."""
    return jsonify(get_searcher().health())


@bp.get("/timeline")
def timeline():
    """How many of the best matching stories fall in each day, week, month or year; with
    share=true, also each period's stories in all (within the filters) and the share; compare
    (up to 2): other questions counted on the same periods.

    Errors: 400 for a bad q, mode, date, interval, stories or share, more than 2 to compare,
    an unknown parameter; 503 when no usable index is loaded.
    """
    kwargs = timeline_args(request.args)
    return jsonify(timelines_json(get_searcher().timelines(**kwargs),
                                  kwargs["filters"].to_dict()))


@bp.get("/facets")
def facets():
    """The outlets and words most frequent among the best matching stories.

    Errors: 400 for a bad q, mode, date or stories, an unknown parameter; 503 when no usable
    index is loaded.
    """
    kwargs = facets_args(request.args)
    return jsonify({"query": kwargs["query"], "filters": kwargs["filters"].to_dict(),
                    **get_searcher().facets(**kwargs).to_dict()})


@bp.get("/entity")
def entity():
    """A person, organisation or place by any of its names (?name=, and interval): its names,
    its articles per period, the names most often beside it and its latest articles.

    Errors: 400 without a name, with a bad interval or another parameter, or for an index
    without entities; 404 for a name no article gives; 503 when no usable index is loaded.
    """
    refuse_unknown(request.args, ("name", "interval"))
    try:  # an empty name is the searcher's QueryError: a 400
        found = get_searcher().entity(request.args.get("name", ""),
                                      request.args.get("interval") or "auto")
    except UnknownEntityError as exc:
        abort(404, str(exc))
    return jsonify(found.to_dict())


@bp.get("/thread")
def thread():
    """The stories of the thread of the article ?id=, first report first, each with its copies,
    its lead and the words it adds to those before it.

    Errors: 400 without an id or with another parameter; 404 for an unknown article or an
    index that records no threads; 503 when no usable index is loaded.
    """
    refuse_unknown(request.args, ("id",))
    article_id = request.args.get("id", "")
    if not article_id:
        abort(400, "id must name an article")
    stories = get_searcher().thread(article_id)
    if not stories:
        abort(404, f"no thread for the article '{article_id[:200]}' in this index")
    return jsonify({"id": article_id, "stories": [s.to_dict() for s in stories]})


@bp.get("/sources")
def sources():
    """The outlets in the index with their article counts; 503 when no index is loaded."""
    searcher = get_searcher()
    return jsonify({"sources": [{"source": s, "articles": n} for s, n in searcher.sources()],
                    "languages": [{"language": code, "articles": n}
                                  for code, n in searcher.languages()]})


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 document of this API."""
    return jsonify(openapi_document(request.host_url.rstrip("/")))
