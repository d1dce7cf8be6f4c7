"""Reading search parameters from a request, the same way for the page and the API."""

from __future__ import annotations

from typing import Any

from flask import abort
from werkzeug.datastructures import MultiDict

from indexer import (
    DEFAULT_MODE,
    MAX_K,
    check_group,
    check_mode,
    check_page,
    check_query,
    check_recency,
    check_sort,
    make_filters,
)

SEARCH_PARAMS = ("q", "k", "mode", "since", "until", "source", "language", "entity", "group",
                 "page", "sort", "recency", "explain", "match")
REPEATABLE = ("source", "language", "entity")
DEFAULT_K = 10


def refuse_unknown(given: Any, known: tuple[str, ...], what: str = "parameter") -> None:
    """400 naming the given names (request args, a JSON body's keys) not in known."""
    unknown = sorted(set(given) - set(known))
    if unknown:
        abort(400, f"unknown {what}{'s' if len(unknown) > 1 else ''} "
                   f"{', '.join(map(repr, unknown))}; known: {', '.join(known)}")


def search_args(args: MultiDict, strict: bool) -> dict[str, Any]:
    """Searcher.search's keyword arguments from request args; 400 for a bad value, or for an
    unknown name when strict. Empty values count as absent (a form sends them so)."""
    if strict:
        refuse_unknown(args, SEARCH_PARAMS)
    for name in SEARCH_PARAMS:
        if name not in REPEATABLE and len(args.getlist(name)) > 1:
            abort(400, f"parameter '{name}' is given more than once")

    def get(name: str, default: Any) -> Any:
        value = args.get(name, "")
        return default if isinstance(value, str) and not value.strip() else value

    query, k = check_query(args.get("q", ""), get("k", DEFAULT_K))  # QueryError -> 400
    return {
        "query": query, "k": k,
        "mode": check_mode(get("mode", DEFAULT_MODE)),
        "filters": make_filters(get("since", ""), get("until", ""), args.getlist("source"),
                                args.getlist("language"), args.getlist("entity")),
        "group": check_group(get("group", "article")),
        "page": check_page(get("page", 1)),
        "sort": check_sort(get("sort", "relevance")),
        "recency": check_recency(get("recency", None)),
        "explain": _flag("explain", get("explain", "false")),
        "matching_only": _flag("match", get("match", "false")),
    }


def _flag(name: str, value: str) -> bool:
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    abort(400, f"{name} must be true or false, got {value!r}")


EXPORT_PARAMS = ("q", "mode", "since", "until", "source", "language", "entity", "group", "sort",
                 "recency", "match", "format")


def export_args(args: MultiDict) -> tuple[dict[str, Any], str]:
    """all_results's keyword arguments and the format (csv or jsonl) from request args; 400 for
    a bad or unknown one (k and page do not apply: an export holds every result). An export
    holds the stories that match unless match=false (every ranked candidate)."""
    refuse_unknown(args, EXPORT_PARAMS)
    fmt = args.get("format") or "csv"
    if fmt not in ("csv", "jsonl"):
        abort(400, f"format must be csv or jsonl, got {fmt!r}")
    kwargs = search_args(MultiDict([(k, v) for k, v in args.items(multi=True)
                                    if k not in ("format", "match")]), strict=True)
    matching = _flag("match", args.get("match") or "true")
    return {**{name: kwargs[name] for name in ("query", "mode", "filters", "group", "sort",
                                               "recency")}, "matching_only": matching}, fmt


TIMELINE_PARAMS = ("q", "mode", "since", "until", "source", "language", "entity", "interval",
                   "stories", "share", "compare")
FACETS_PARAMS = ("q", "mode", "since", "until", "source", "language", "entity", "stories")


def timeline_args(args: MultiDict) -> dict[str, Any]:
    """Searcher.timelines's keyword arguments from request args; 400 for a bad or unknown one.
    Empty values count as absent (a form sends them so)."""
    refuse_unknown(args, TIMELINE_PARAMS)
    return {**_story_args(args), "interval": args.get("interval") or "auto",
            "share": _flag("share", args.get("share") or "false"),
            "compare": [q for q in args.getlist("compare") if q.strip()]}


def facets_args(args: MultiDict) -> dict[str, Any]:
    """Searcher.facets's keyword arguments from request args; 400 for a bad or unknown one."""
    refuse_unknown(args, FACETS_PARAMS)
    return _story_args(args)


def _story_args(args: MultiDict) -> dict[str, Any]:
    for name in ("q", "mode", "since", "until", "stories", "interval", "share"):
        if len(args.getlist(name)) > 1:
            abort(400, f"parameter '{name}' is given more than once")
    query, _ = check_query(args.get("q", ""), 1)
    return {"query": query, "mode": args.get("mode") or DEFAULT_MODE,
            "filters": make_filters(args.get("since"), args.get("until"), args.getlist("source"),
                                    args.getlist("language"), args.getlist("entity")),
            "stories": args.get("stories") or None}


__all__ = ["EXPORT_PARAMS", "export_args", "FACETS_PARAMS", "facets_args", "TIMELINE_PARAMS",
           "timeline_args", "DEFAULT_K", "DEFAULT_MODE", "MAX_K", "SEARCH_PARAMS", "search_args"]
