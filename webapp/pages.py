"""The HTML pages: the search box with its results, many questions at once, and one article in
full."""

from __future__ import annotations

import io
import urllib.parse
from dataclasses import dataclass
from pathlib import PurePath
from typing import Sequence

from flask import Blueprint, Response, abort, render_template, request, url_for

from indexer import Hit, IndexerError, QueryError, highlight, query_stems
from indexer.errors import UnknownEntityError
from indexer.features.batch import (BatchError, Question, answer_all, answer_each,
                                    decoded, questions_in)
from indexer.features.export import write_rows
from indexer.query import parse

from . import get_searcher
from .fairness import heavy, slices
from .params import DEFAULT_K, EXPORT_PARAMS, search_args

bp = Blueprint("pages", __name__)


@dataclass(frozen=True)
class Segment:
    """A run of passage text, and whether it is a matched word or inside the best sentence."""

    text: str
    term: bool  # one of the query's words
    marked: bool  # inside a marked span: the best sentence, or a passage that matched


def segments(text: str, terms: Sequence[tuple[int, int]],
             spans: Sequence[tuple[int, int]] = ()) -> list[Segment]:
    """Cut text at every highlight edge, so the template can mark each run without raw HTML."""
    cuts = {0, len(text)}
    for start, end in (*terms, *spans):
        cuts.update((start, end))
    edges = sorted(c for c in cuts if 0 <= c <= len(text))
    return [Segment(text[start:end],
                    any(s <= start and end <= e for s, e in terms),
                    any(s <= start and end <= e for s, e in spans))
            for start, end in zip(edges, edges[1:])]


def hit_segments(hit: Hit) -> list[Segment]:
    """The hit's passage cut for display, after its article's opening sentences where shown
    (an ellipsis between them: the passage does not follow on from them)."""
    sentence = hit.highlights.sentence
    shown = segments(hit.passage.text, hit.highlights.terms, [sentence] if sentence else [])
    if hit.lead is None:
        return shown
    return [*segments(hit.lead.text, hit.lead_terms), Segment(" … ", False, False), *shown]


@bp.get("/")
def index():
    """The search box, and the results when a question is given.

    Errors: the page is shown with the reason and status 400 for an empty or over-long question
    or a bad k, date, page or mode; 503 when no usable index is loaded.
    """
    form = {
        name: request.args.get(name, "")
        for name in ("q", "since", "until", "mode", "group", "sort")
    }
    form["source"] = request.args.get("source", "")
    form["language"] = request.args.get("language", "")
    context = {"form": form, "query": form["q"], "k": request.args.get("k", DEFAULT_K),
               "result": None, "error": None, "sources": [], "languages": [], "holdings": None,
               "hit_segments": hit_segments, "article_url": article_url}
    try:
        searcher = get_searcher()
        context["sources"], context["holdings"] = searcher.sources(), searcher.health()
        context["languages"] = searcher.languages()
    except IndexerError:
        if "q" in request.args:
            raise
    if "q" not in request.args:
        return render_template("index.html", **context)
    try:
        kwargs = search_args(request.args, strict=False)
        result = searcher.search(**{**kwargs, "explain": True})  # a person reads the why
        compare = [c for c in request.args.getlist("compare") if c.strip()]
        share = request.args.get("share", "") in ("true", "1", "on")
        timelines = searcher.timelines(kwargs["query"], kwargs["mode"], kwargs["filters"],
                                       share=share, compare=compare)
        facets = searcher.facets(kwargs["query"], kwargs["mode"], kwargs["filters"])
    except QueryError as exc:  # a bad parameter, or an outlet the index does not have
        return render_template("index.html", **{**context, "error": str(exc)}), 400
    kept = [(k, v) for k, v in request.args.items(multi=True)
            if k not in ("compare", "share", "page") and v.strip()]
    return render_template("index.html", **{**context, "query": kwargs["query"], "k": kwargs["k"],
                                            "result": result, "page_url": _page_url,
                                            "export_url": _export_url, "timeline": timelines[0],
                                            "timelines": timelines, "share": share,
                                            "compare": compare, "kept_args": kept,
                                            "facets": facets, "source_url": _source_url,
                                            "entity_url": _entity_url,
                                            "chart_peak": max(t.peak_share if share else t.peak
                                                              for t in timelines),
                                            "period_url": _period_url})


def _narrowed(**changes: list[str]) -> str:
    """This search's URL from page 1, with these parameters set to these values."""
    args = request.args.to_dict(flat=False)
    args.pop("page", None)
    return _address("pages.index", {**args, **changes})


def _entity_url(name: str) -> str:
    """This search's URL narrowed to the articles that also name this entity, from page 1."""
    return _narrowed(entity=[*request.args.getlist("entity"), name])


def _source_url(name: str) -> str:
    """This search's URL filtered to one outlet, from page 1."""
    return _narrowed(source=[name])


def _period_url(start: str, end: str) -> str:
    """This search's URL filtered to one period of the timeline, from page 1: the matching
    stories alone, the very ones its bar counts."""
    return _narrowed(since=[start], until=[end], match=["true"])


def _export_url(fmt: str) -> str:
    """The API's export of this page's search: every story that matches, as a file."""
    args = {k: v for k, v in request.args.to_dict(flat=False).items()
            if k in EXPORT_PARAMS and any(x.strip() for x in v)}
    return _address("api.export", {**args, "format": [fmt]})


def _page_url(page: int, **changes: str | None) -> str:
    """This search's URL at another page (with these parameters set; None drops one)."""
    args = request.args.to_dict(flat=False)
    args["page"] = [str(page)]
    for name, value in changes.items():
        args.pop(name, None)
        if value is not None:
            args[name] = [value]
    return _address("pages.index", args)


def _address(endpoint: str, args: dict[str, list[str]]) -> str:
    """The endpoint's URL with args as its query string, as url_for writes one. Not through
    url_for's keywords: a request's parameter named format, _anchor, _method, _scheme or
    endpoint would be taken for url_for's own (a 500 on the results page)."""
    query = urllib.parse.urlencode(args, doseq=True, safe="!$'()*,/:;?@")
    return url_for(endpoint) + ("?" + query if query else "")


def article_url(article_id: str, **args: object) -> str:
    """The address of an article's page: /article/ID where the id reads as a path unchanged,
    else /article?id=ID (an id with "..", "//" or an outer "/" would be changed by browsers or
    by the router on the way)."""
    parts = article_id.split("/")
    if article_id and "" not in parts and not {".", ".."} & set(parts):
        return url_for("pages.article", article_id=article_id, **args)
    return url_for("pages.article_by_query", id=article_id, **args)


@bp.get("/article")
def article_by_query():
    """An article whose id is given as ?id= (any id at all); as article() otherwise.

    Errors: 400 for a missing or repeated id; as article() otherwise.
    """
    ids = request.args.getlist("id")
    if len(ids) != 1:
        abort(400, "give the article's id once, as ?id=")
    return article(ids[0])


@bp.get("/article/<path:article_id>")
def article(article_id: str):
    """One article in full: the passages named by p (repeatable) and the words of q marked.

    Errors: 400 for a p that is not a passage id; 404 for an unknown id; 503 when no usable
    index is loaded.
    """
    searcher = get_searcher()
    found = searcher.article(article_id)
    if found is None:
        abort(404, f"no article with id '{article_id}' in this index")
    try:
        wanted = [int(p) for p in request.args.getlist("p")]
    except ValueError:
        abort(400, "p must be a passage id (a whole number)")
    passages = dict(searcher.article_passages(article_id))
    spans = [(p.start, p.end) for pid, p in passages.items() if pid in set(wanted)]
    # #match goes to the paragraph where the first passage named (the one the result showed)
    # begins.
    shown = passages.get(wanted[0]) if wanted else None
    query = request.args.get("q", "")[:1000]
    try:  # the words searched are marked: not the operators', nor those it excludes
        stems = query_stems(parse(query).text)
    except QueryError:
        stems = query_stems(query)
    paragraphs, anchor = [], None
    offset = 0
    for para in found.text.split("\n\n") if found.text else []:
        start = found.text.index(para, offset)
        end = offset = start + len(para)
        inside = [
            (max(s, start) - start, min(e, end) - start) for s, e in spans if s < end and e > start
        ]
        if anchor is None and shown is not None and shown.start < end:
            anchor = len(paragraphs)
        paragraphs.append(segments(para, highlight(para, stems).terms, inside))
    return render_template("article.html", article=found, query=query, paragraphs=paragraphs,
                           marked=len(spans), anchor=anchor)


@bp.get("/thread")
def thread():
    """The stories of an article's thread (?id=), first report first, with what each adds.

    Errors: 400 without an id; 404 for an unknown id or an index that records no threads.
    """
    article_id = request.args.get("id", "")
    if not article_id:
        abort(400, "id must name an article")
    stories = get_searcher().thread(article_id)
    if not stories:
        abort(404, f"no thread for the article '{article_id[:200]}' in this index (an index "
                   "built before threads gets them on its next `news-search index PATH --update`)")
    return render_template("thread.html", stories=stories, article_url=article_url)


@bp.get("/entity")
def entity():
    """A person, organisation or place (?name=, any of its names): its articles over time,
    the names beside it, its latest articles.

    Errors: 400 without a name or for an index without entities; 404 for a name no article
    gives.
    """
    try:  # an empty name is the searcher's QueryError: a 400
        found = get_searcher().entity(request.args.get("name", ""))
    except UnknownEntityError as exc:
        abort(404, str(exc))
    return render_template("entity.html", entity=found, article_url=article_url)


MAX_BATCH = 100  # questions the page answers at once (the API's limit too)


def _batch_form() -> tuple[list[Question], int]:
    """The questions of a batch form, from its file (a CSV or TSV with a question column, its
    other columns kept, or one question a line) or else pasted one a line, and k; 400 when
    there are none, too many, or the file is not text in UTF-8 (or UTF-16 with its mark)."""
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        try:
            text = decoded(upload.read())
            questions = questions_in(text, PurePath(PurePath(upload.filename).name or "file"),
                                     MAX_BATCH)
        except UnicodeDecodeError:
            abort(400, f"{upload.filename} is not UTF-8 text: save it as UTF-8 (CSV UTF-8)")
        except BatchError as exc:
            abort(400, f"{exc} (the command line `news-search batch FILE` takes any number)")
    else:
        lines = [line.strip() for line in request.form.get("questions", "").splitlines()]
        questions = [Question(q, n) for n, q in enumerate((q for q in lines if q), 1)]
    if not questions:
        abort(400, "paste at least one question, one a line, or choose a file of them")
    if len(questions) > MAX_BATCH:
        abort(400, f"{len(questions)} questions: at most {MAX_BATCH} at once (the command line "
                   "`news-search batch FILE` takes any number)")
    k = request.form.get("k", "3")
    if k not in ("1", "3", "5", "10"):
        abort(400, f"k must be 1, 3, 5 or 10, got {k!r}")
    return questions, int(k)


@bp.route("/batch", methods=["GET", "POST"])
def batch():
    """A box for many questions; each pasted question is answered by its best k results (its
    answer sentence shown), and one that fails says why in its place.

    Errors: 400 for no question, more than MAX_BATCH, or a bad k; 503 when no index is loaded.
    """
    context = {"limit": MAX_BATCH, "k": 3, "text": "", "article_url": article_url}
    if request.method == "GET":
        return render_template("batch.html", **context)
    questions, k = _batch_form()
    searcher = get_searcher()
    texts = [q.text for q in questions]
    with heavy():
        answers = [(text, hits, f"line {q.line}: {q.problem}" if q.problem else problem)
                   for text, q, (hits, problem)
                   in zip(texts, questions, slices(answer_each(searcher, texts, k)))]
    return render_template("batch.html", **{**context, "k": k, "answers": answers,
                                            "text": "\n".join(texts)})


@bp.post("/batch.csv")
def batch_csv():
    """The questions' answers as a CSV download (rows as `news-search batch` writes, a file's
    other columns first)."""
    questions, k = _batch_form()
    out = io.StringIO()
    searcher = get_searcher()
    extra = list(dict.fromkeys(name for q in questions for name in q.extra))
    with heavy():
        write_rows(slices(answer_all(searcher, questions, k), k), out, "csv", extra, file=True)
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="news-search-batch.csv"'})
