"""Reading search parameters from a request, the same way for the page and the API."""

from __future__ import annotations

from typing import Mapping

from flask import abort

from indexer import DEFAULT_MODE, MAX_K, check_mode, check_query

SEARCH_PARAMS = ("q", "k", "mode")
DEFAULT_K = 10


def search_args(args: Mapping[str, str], strict: bool) -> tuple[str, int, str]:
    """(query, k, mode) from request args; 400 for a bad value, or for an unknown name when strict."""
    if strict:
        unknown = sorted(set(args) - set(SEARCH_PARAMS))
        if unknown:
            abort(400, f"unknown parameter{'s' if len(unknown) > 1 else ''} "
                       f"{', '.join(map(repr, unknown))}; known: {', '.join(SEARCH_PARAMS)}")
    for name in SEARCH_PARAMS:
        if len(args.getlist(name) if hasattr(args, "getlist") else [args.get(name)]) > 1:
            abort(400, f"parameter '{name}' is given more than once")
    k = args.get("k", DEFAULT_K)
    if isinstance(k, str) and not k.strip():
        k = DEFAULT_K
    query, k = check_query(args.get("q", ""), k)  # QueryError -> 400 by the error handler
    return query, k, check_mode(args.get("mode") or DEFAULT_MODE)


__all__ = ["DEFAULT_K", "DEFAULT_MODE", "MAX_K", "SEARCH_PARAMS", "search_args"]
