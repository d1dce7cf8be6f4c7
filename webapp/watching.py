"""Watches on the web: the page lists them with their history, saves one from a search, shows
what each has found, and gives each as an Atom feed; the API lists and saves them too.

Saving a watch is the one thing a request may write: a small file beside the index (never the
index), at most MAX_WATCHES watches, and only from this site's own pages (a form posted from
another site is refused: browsers say where a request comes from)."""

from __future__ import annotations

import re
from urllib.parse import quote
import xml.etree.ElementTree as ET
from typing import Any

from flask import (Blueprint, Response, abort, current_app, jsonify, redirect, render_template,
                   request, url_for)
from werkzeug.datastructures import MultiDict

from indexer import QueryError, make_filters
from indexer.dates import day_of
from indexer.features.watches import DEFAULT_DEPTH, MAX_WATCHES, Watches, WatchesDamaged, WatchError

from . import get_searcher
from .params import refuse_unknown

bp = Blueprint("watching", __name__)
FEED_ENTRIES = 50  # the newest findings a feed gives
PAGE_WATCHES = 25  # watches a page of /watches lists
WATCH_KEYS = ("name", "q", "mode", "since", "until", "source", "language", "entity", "depth")
ATOM = "http://www.w3.org/2005/Atom"
# Characters XML 1.0 cannot hold: an archive's control characters would make the feed unreadable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _watches() -> Watches:
    return Watches(current_app.config["INDEX_DIR"])


def _watch(name: str):
    try:
        return _watches().get(name)
    except WatchesDamaged:
        raise  # a 503 that says so (errors.py)
    except WatchError:
        abort(404, f"no watch named {name[:80]!r}")


def _same_site() -> None:
    """403 for a form or request posted from another site (a page elsewhere must not save
    watches here in a visitor's name). The Host is one this server answers as (security.py);
    a browser says where a request comes from: Origin (null where the page sends no
    referrer, as ours do: then Sec-Fetch-Site must say same-origin). A client that is not a
    browser (curl) says neither, and is no visitor's."""
    site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    if site not in (None, "same-origin", "none") or (origin == "null" and site != "same-origin") \
            or (origin and origin != "null"
                and origin.rstrip("/") != request.host_url.rstrip("/")):
        abort(403, "watches are saved from this site's own pages only")


def _save(values: MultiDict) -> Any:
    """Save the watch a form or a JSON body describes; QueryError (a 400) for a bad value."""
    depth = values.get("depth", "") or DEFAULT_DEPTH
    try:
        depth = int(depth)
    except (TypeError, ValueError):
        raise QueryError(f"depth must be a whole number, got {str(depth)[:40]!r}") from None
    filters = make_filters(values.get("since", ""), values.get("until", ""),
                           values.getlist("source"), values.getlist("language"),
                           values.getlist("entity"))
    return _watches().save(get_searcher(), values.get("name", ""), values.get("q", ""),
                           values.get("mode", "") or "hybrid", filters, depth,
                           limit=MAX_WATCHES)


@bp.get("/watches")
def watches_page():
    """The watches, PAGE_WATCHES a page (?page=N), each with its search and its checks,
    newest first.

    Errors: 400 for a page that is not a whole number from 1."""
    page = request.args.get("page", "1")
    if not page.isascii() or not page.isdigit() or not 1 <= int(page) <= 10_000:
        abort(400, f"page must be a whole number from 1, got {page[:40]!r}")
    page, watches = int(page), _watches()
    total = watches.count()
    shown = watches.all(offset=(page - 1) * PAGE_WATCHES, limit=PAGE_WATCHES)
    return render_template("watches.html", watches=shown, page=page, total=total,
                           pages=max(1, -(-total // PAGE_WATCHES)))


@bp.post("/watches")
def save_from_page():
    """Save the search of the form as a watch; on to its page.

    Errors: 400 for a bad name or search, or too many watches; 403 from another site."""
    _same_site()
    watch = _save(request.form)  # a QueryError is a 400 with its reason
    return redirect(url_for("watching.watch_page", name=watch.name), 303)


@bp.get("/watch/<name>")
def watch_page(name: str):
    """A watch's findings, newest first, and its checks."""
    return render_template("watch.html", watch=_watch(name))


@bp.get("/watch/<name>.atom")
def feed(name: str):
    """The watch as an Atom feed: an entry for each story it found, newest first."""
    watch = _watch(name)
    ET.register_namespace("", ATOM)
    root = ET.Element(f"{{{ATOM}}}feed")
    base = request.host_url.rstrip("/")
    self_url = base + url_for("watching.feed", name=name)

    def add(parent: ET.Element, tag: str, text: str = "", **attrs: str) -> ET.Element:
        child = ET.SubElement(parent, f"{{{ATOM}}}{tag}",
                              {k: _NOT_XML.sub("", v) for k, v in attrs.items()})
        if text:
            child.text = _NOT_XML.sub("", text)
        return child

    add(root, "id", self_url)
    add(root, "title", f"news-search watch {watch.name}: {watch.query}")
    add(root, "link", href=self_url, rel="self")
    add(root, "link", href=base + url_for("watching.watch_page", name=name))
    updated = max([c["at"] for c in watch.checks] or [watch.created])
    add(root, "updated", updated)
    add(add(root, "author"), "name", "news-search")
    for f in watch.findings[:FEED_ENTRIES]:
        entry = add(root, "entry")
        add(entry, "id", _entry_id(watch, f["key"]))
        add(entry, "title", f["title"] or "(untitled)")
        add(entry, "updated", _updated(f))
        link = f["url"] if f["url"].startswith(("http://", "https://")) else \
            base + url_for("pages.article_by_query", id=f["article_id"])
        add(entry, "link", href=link)
        add(entry, "summary", f["passage"])
        if f["source"]:
            add(add(entry, "author"), "name", f["source"])
    body = ET.tostring(root, encoding="unicode", xml_declaration=False)
    return Response('<?xml version="1.0" encoding="utf-8"?>\n' + body,
                    mimetype="application/atom+xml")


def _entry_id(watch, key: str) -> str:  # noqa: ANN001 - a Watch
    """An entry's id: a tag URI (RFC 4151), the same wherever the feed is read from; the
    finding's key (its article's id; once, a passage's id and digest) percent-encoded, so any
    article id makes a valid IRI."""
    year = watch.created[:4] if watch.created[:4].isdigit() else "2026"
    return f"tag:news-search,{year}:watch/{quote(watch.name, safe='')}/{quote(key, safe='')}"


def _updated(finding: dict) -> str:
    """When an entry's story was published (its article's date, RFC 3339), else when found."""
    day = day_of(finding.get("date") or "")
    return f"{day.isoformat()}T00:00:00Z" if day else finding["found"]


@bp.get("/api/watches")
def api_list():
    """Every watch with its checks."""
    return jsonify({"watches": [w.summary() for w in _watches().all()]})


@bp.get("/api/watches/<name>")
def api_watch(name: str):
    """One watch with its findings, newest first."""
    watch = _watch(name)
    return jsonify({**watch.summary(), "findings": watch.findings})


@bp.post("/api/watches")
def api_save():
    """Save a watch from a JSON body {"name", "q", "mode", "since", "until", "source": [...],
    "language": [...], "entity": [...],
    "depth"}; 201 with the watch.

    Errors: 400 for a body that is not such an object or a bad value, too many watches;
    403 from another site's page."""
    _same_site()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "the body must be a JSON object with 'name' and 'q'")
    refuse_unknown(MultiDict(body), WATCH_KEYS)
    values = MultiDict()
    for key, value in body.items():
        for item in (value if key in ("source", "language", "entity") and isinstance(value, list)
                     else [value]):
            if not isinstance(item, (str, int)) or isinstance(item, bool):
                abort(400, f"'{key}' must be text")
            values.add(key, str(item))
    return jsonify(_save(values).summary()), 201
