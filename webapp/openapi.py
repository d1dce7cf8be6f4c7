"""The OpenAPI document of the JSON API, kept beside the routes it describes."""

from __future__ import annotations

from typing import Any

from indexer import DEFAULT_MODE, GROUPS, INTERVALS, MAX_K, MAX_PAGE, MAX_QUERY_CHARS, MODES

from .params import DEFAULT_K

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object", "required": ["status", "message"],
        "properties": {"status": {"type": "integer"}, "message": {"type": "string"}},
    }},
}
_WATCH = {
    "type": "object",
    "required": ["name", "query", "mode", "checks"],
    "properties": {
        "name": {"type": "string"}, "query": {"type": "string"}, "mode": {"type": "string"},
        "filters": {"type": "object"}, "depth": {"type": "integer"},
        "created": {"type": "string"},
        "found": {"type": "integer", "description": "stories found and kept (the newest 200)"},
        "checks": {"type": "array", "description": "newest first: each build of the index it "
                   "was checked against, when, and how many new stories it brought",
                   "items": {"type": "object", "properties": {
                       "index": {"type": "string"}, "at": {"type": "string"},
                       "new": {"type": "integer"}, "saved": {"type": "boolean"}}}},
    },
}
_TIMELINE = {
    "type": "object",
    "required": ["interval", "buckets", "undated"],
    "properties": {
        "query": {"type": "string"}, "interval": {"type": "string"},
        "matching": {"type": "integer", "description": "the stories that match the question "
                     "(README, What matches)"},
        "stories": {"type": "integer", "description": "the stories counted: all that match, "
                    "or the best `stories` of them; the buckets' counts and undated add up to "
                    "it"},
        "undated": {"type": "integer"},
        "buckets": {"type": "array", "items": {
            "type": "object", "required": ["start", "end", "count"], "properties": {
                "start": {"type": "string"}, "end": {"type": "string"},
                "count": {"type": "integer"},
                "total": {"type": "integer", "description": "with share: the period's stories "
                          "in all, within the filters"},
                "share": {"type": "number", "minimum": 0, "maximum": 1}}}},
    },
}
_SPAN = {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2}
_ARTICLE = {
    "type": "object",
    "required": ["id", "title", "date", "source", "url"],
    "properties": {
        "id": {"type": "string"},
        "title": {"type": "string"},
        "date": {"type": "string", "description": "ISO 8601 where the input's date parsed; as given otherwise"},
        "source": {"type": "string", "description": "the outlet"},
        "language": {"type": "string", "description": "ISO 639-1 code, detected when indexed; "
                     "empty when the text is too short to tell"},
        "url": {"type": "string"},
    },
}
_RESULT = {
    "type": "object",
    "required": ["rank", "score", "passage_id", "text", "article"],
    "properties": {
        "rank": {"type": "integer", "minimum": 1},
        "score": {"type": "number", "description": "the ranking score of the mode: the "
                  "fused score, 0..1 (hybrid and keyword), or cosine similarity (semantic)"},
        "similarity": {"type": ["number", "null"],
                       "description": "cosine similarity of question and passage"},
        "keyword_score": {"type": ["number", "null"],
                          "description": "BM25 score, when the passage holds the query's words"},
        "passage_id": {"type": "integer"},
        "text": {"type": "string", "description": "what the result shows: one result a "
                 "story shows its passage's best sentence with the whole sentences around it, "
                 "up to 150 words of the article with its lead; group=passage shows the "
                 "passage ranked"},
        "lead": {"oneOf": [{"type": "null"}, {"type": "object", "properties": {
                     "text": {"type": "string"}, "offsets": _SPAN,
                     "terms": {"type": "array", "items": _SPAN}}}],
                 "description": "the article's opening sentences (up to 60 words), shown before "
                                "text, with a gap between them, when text neither holds them "
                                "nor follows on from them; terms: the query's words in it, as "
                                "offsets into its text"},
        "position": {"type": "integer", "description": "the passage's place in its article, from 0"},
        "offsets": {**_SPAN, "description": "start and end of text in the article's text"},
        "article": {"$ref": "#/components/schemas/Article"},
        "highlights": {
            "type": "object",
            "description": "why it matched, as character offsets into text",
            "properties": {
                "terms": {"type": "array", "items": _SPAN, "description": "the query's words"},
                "sentence": {"oneOf": [_SPAN, {"type": "null"}],
                             "description": "the sentence holding most of them or, in a passage "
                                            "holding none, the one closest in meaning"},
                "sentence_by": {"enum": ["words", "meaning", None]},
            },
        },
        "thread_stories": {"type": "integer", "minimum": 1,
                           "description": "stories in its thread (the same event across "
                                          "outlets and days), itself included: GET /api/thread"},
        "also_published": {"type": "array", "items": {"$ref": "#/components/schemas/Article"},
                           "description": "the same story published by other outlets (exact or "
                                          "near copies, dated within 3 days)"},
        "more_passages": {"type": "integer",
                          "description": "how many other passages of the article matched"},
        "more": {"type": "array", "description": "the first few of them",
                 "items": {"type": "object", "properties": {
                     "passage_id": {"type": "integer"}, "position": {"type": "integer"},
                     "offsets": _SPAN, "text": {"type": "string"}}}},
    },
}
_DATE = {"type": "string", "pattern": r"^\d{4}(-\d{2}(-\d{2})?)?$"}


_SEARCH_PARAMETERS = [
    {"name": "q", "in": "query", "required": True,
     "schema": {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_CHARS},
     "description": "the question or words to search for, with the query syntax: \"a phrase\","
                    " +must, -mustnot, title:word (README, Query syntax)"},
    {"name": "k", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_K, "default": DEFAULT_K},
     "description": "how many passages to return"},
    {"name": "mode", "in": "query", "required": False,
     "schema": {"type": "string", "enum": list(MODES), "default": DEFAULT_MODE},
     "description": "hybrid: similarity and BM25 (passage and article) fused;"
                    " semantic: by meaning only; keyword: BM25 only"},
    {"name": "since", "in": "query", "required": False, "schema": _DATE,
     "description": "only articles dated on or after this day (or month, year)"},
    {"name": "until", "in": "query", "required": False, "schema": _DATE,
     "description": "only articles dated on or before this day (or month, year)"},
    {"name": "source", "in": "query", "required": False, "explode": True,
     "schema": {"type": "array", "items": {"type": "string"}, "maxItems": 50},
     "description": "only articles of these outlets (repeat the parameter)"},
    {"name": "language", "in": "query", "required": False, "explode": True,
     "schema": {"type": "array", "items": {"type": "string", "pattern": "^[a-zA-Z]{2,3}$"},
                "maxItems": 50},
     "description": "only articles in these languages, as detected when indexed: ISO 639-1 "
                    "codes such as en or de (repeat the parameter; GET /api/sources lists them)"},
    {"name": "entity", "in": "query", "required": False, "explode": True,
     "schema": {"type": "array", "items": {"type": "string", "maxLength": 80}, "maxItems": 10},
     "description": "only articles that name all these people, organisations or places "
                    "(an index built with --entities; GET /api/facets lists them)"},
    {"name": "group", "in": "query", "required": False,
     "schema": {"type": "string", "enum": list(GROUPS), "default": "article"},
     "description": "article: each article once, by its best passage, with its "
                    "other matching passages under `more`; passage: every passage"},
    {"name": "page", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
     "description": "page of k results; pages never repeat or skip a result"},
    {"name": "sort", "in": "query", "required": False,
     "schema": {"type": "string", "enum": ["relevance", "date"], "default": "relevance"},
     "description": "date: the 100 most relevant results, newest first"},
    {"name": "recency", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": 36500},
     "description": "favour recent articles: a score halves for every this many "
                    "days it is older than the newest article in the index"},
    {"name": "explain", "in": "query", "required": False,
     "schema": {"type": "boolean", "default": False},
     "description": "in hits sharing no word with q, mark the sentence closest "
                    "in meaning (costs tens of milliseconds)"},
    {"name": "match", "in": "query", "required": False,
     "schema": {"type": "boolean", "default": False},
     "description": "list only the stories that match the question (README, What matches): "
                    "every one of them, the ranked ones first"},

]
_PARAMETER = {p["name"]: p for p in _SEARCH_PARAMETERS}


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def openapi_document(server_url: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document, with this server's URL."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "news-search API", "version": "1",
                 "description": "Semantic search over a news archive: questions in plain words, "
                                "ranked passages with their article's headline, outlet, date and link."},
        "servers": [{"url": server_url}],
        "paths": {
            "/api/search": {"get": {
                "summary": "Passages that answer a question, best first",
                "parameters": _SEARCH_PARAMETERS,
                "responses": {
                    "200": {"description": "ranked passages", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["query", "took_ms", "results"],
                        "properties": {
                            "query": {"type": "string"}, "k": {"type": "integer"},
                            "mode": {"type": "string", "enum": list(MODES)},
                            "group": {"type": "string", "enum": list(GROUPS)},
                            "sort": {"type": "string"},
                            "recency": {"type": ["integer", "null"]},
                            "filters": {"type": "object"},
                            "page": {"type": "integer"},
                            "total": {"type": "integer",
                                      "description": "results over all pages: the articles (or "
                                                     "passages) nearest the question among the "
                                                     "1,000 candidate passages of each retriever; "
                                                     "with match, those that match"},
                            "matching": {"type": "integer",
                                         "description": "the stories that match the question, by "
                                                        "meaning or words (README, What "
                                                        "matches)"},
                            "matching_only": {"type": "boolean"},
                            "has_more": {"type": "boolean"},
                            "took_ms": {"type": "number"},
                            "results": {"type": "array", "items": {"$ref": "#/components/schemas/Result"}},
                        }}}}},
                    "400": _error_response("a missing or bad parameter, or an unknown one"),
                    "503": _error_response("no usable index is loaded; the message says how to build one"),
                },
            }},
            "/api/batch": {"post": {
                "summary": "Many questions at once, each answered by its best results",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["questions"], "additionalProperties": False,
                    "properties": {
                        "questions": {"type": "array", "minItems": 1, "maxItems": 100,
                                      "items": {"type": "string"}},
                        "k": {"type": "integer", "minimum": 1, "maximum": 10, "default": 3},
                        "mode": {"type": "string", "enum": list(MODES), "default": DEFAULT_MODE},
                        "since": _DATE, "until": _DATE,
                        "source": {"type": "array", "items": {"type": "string"}},
                        "language": {"type": "array", "items": {"type": "string"}},
                        "entity": {"type": "array", "items": {"type": "string"}}}}}}},
                "responses": {
                    "200": {"description": "each question's results, in order; a question that "
                                           "fails has its error and no result",
                            "content": {"application/json": {"schema": {
                                "type": "object", "required": ["answers"], "properties": {
                                    "k": {"type": "integer"}, "mode": {"type": "string"},
                                    "filters": {"type": "object"},
                                    "answers": {"type": "array", "items": {
                                        "type": "object", "required": ["question", "results"],
                                        "properties": {
                                            "question": {"type": "string"},
                                            "error": {"type": ["string", "null"]},
                                            "results": {"type": "array", "items": {
                                                "$ref": "#/components/schemas/Result"}}}}}}}}}},
                    "400": _error_response("a body that is not such an object, too many "
                                           "questions, a bad k, mode, date or outlet"),
                    "413": _error_response("a body over 64 kB"),
                    "429": _error_response("2 batches or exports of this client under way; "
                                           "Retry-After says when to try again"),
                    "503": _error_response("no usable index is loaded"),
                },
            }},
            "/api/export": {"get": {
                "summary": "Every story that matches a search, all its pages, as a CSV or JSON "
                           "Lines file",
                "parameters": [
                    _PARAMETER["q"],
                    {"name": "format", "in": "query", "required": False,
                     "schema": {"type": "string", "enum": ["csv", "jsonl"], "default": "csv"}},
                    *(_PARAMETER[name] for name in ("mode", "since", "until", "source", "language", "entity", "group",
                                                    "sort", "recency")),
                    {"name": "match", "in": "query", "required": False,
                     "schema": {"type": "boolean", "default": True},
                     "description": "false: every ranked result, matching or not"},
                ],
                "responses": {
                    "200": {"description": "a row a result, best first: question, rank, score, "
                                           "title, source, date, url, article_id, passage, answer",
                            "content": {"text/csv": {"schema": {"type": "string"}},
                                        "application/x-ndjson": {"schema": {"type": "string"}}}},
                    "400": _error_response("a missing or bad parameter, or an unknown one"),
                    "429": _error_response("2 batches or exports of this client under way; "
                                           "Retry-After says when to try again"),
                    "503": _error_response("no usable index is loaded"),
                },
            }},
            "/api/entity": {"get": {
                "summary": "A person, organisation or place by any of its names (index "
                           "--entities): its names, articles per period, company, latest",
                "parameters": [
                    {"name": "name", "in": "query", "required": True,
                     "schema": {"type": "string"}},
                    {"name": "interval", "in": "query", "required": False,
                     "schema": {"type": "string", "enum": list(INTERVALS), "default": "auto"}},
                ],
                "responses": {
                    "200": {"description": "the entity", "content": {"application/json": {
                        "schema": {"type": "object", "required": ["name", "kind", "articles"],
                                   "properties": {
                            "name": {"type": "string"}, "kind": {"type": "string"},
                            "articles": {"type": "integer"},
                            "variants": {"type": "array", "items": {"type": "object"}},
                            "timeline": _TIMELINE,
                            "companions": {"type": "array", "items": {"type": "object"}},
                            "latest": {"type": "array",
                                       "items": {"$ref": "#/components/schemas/Article"}}}}}}},
                    "400": _error_response("no name, a bad interval, an unknown parameter, or "
                                           "an index without entities"),
                    "404": _error_response("no article names it"),
                    "503": _error_response("no usable index is loaded"),
                },
            }},
            "/api/timeline": {"get": {
                "summary": "How many of the stories that match a question fall in each period",
                "parameters": [
                    *(_PARAMETER[name] for name in ("q", "mode", "since", "until", "source",
                                                    "language", "entity")),
                    {"name": "interval", "in": "query", "required": False,
                     "schema": {"type": "string", "enum": list(INTERVALS), "default": "auto"},
                     "description": "auto: days, weeks or months by the span; a too fine "
                                    "interval is made coarser to keep at most 400 periods"},
                    {"name": "stories", "in": "query", "required": False,
                     "schema": {"type": "integer", "minimum": 1},
                     "description": "count only this many of the best matching stories "
                                    "(default: all; syndicated copies count once)"},
                    {"name": "share", "in": "query", "required": False,
                     "schema": {"type": "boolean", "default": False},
                     "description": "also give each period's stories in all (within the "
                                    "filters) as total, and count / total as share"},
                    {"name": "compare", "in": "query", "required": False,
                     "schema": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
                     "style": "form", "explode": True,
                     "description": "up to 2 more questions, counted on the same periods"},
                ],
                "responses": {
                    "200": {"description": "stories per period", "content": {"application/json": {
                        "schema": {**_TIMELINE, "required": ["interval", "buckets", "undated"],
                                   "properties": {
                            **_TIMELINE["properties"], "filters": {"type": "object"},
                            "compare": {"type": "array", "items": _TIMELINE,
                                        "description": "the questions compared, in order"}}}}}},
                    "400": _error_response("a missing or bad parameter, or an unknown one"),
                    "503": _error_response("no usable index is loaded"),
                },
            }},
            "/api/facets": {"get": {
                "summary": "The outlets and the words most frequent among the stories that "
                           "match a question",
                "parameters": [
                    *(_PARAMETER[name] for name in ("q", "mode", "since", "until", "source",
                                                    "language", "entity")),
                    {"name": "stories", "in": "query", "required": False,
                     "schema": {"type": "integer", "minimum": 1},
                     "description": "look only at this many of the best matching stories "
                                    "(default: all)"},
                ],
                "responses": {
                    "200": {"description": "outlets by stories; words by the stories whose best "
                            "passage holds them, weighed by their rarity, the question's left out",
                            "content": {"application/json": {"schema": {
                                "type": "object", "required": ["stories", "outlets", "words"],
                                "properties": {
                                    "query": {"type": "string"}, "filters": {"type": "object"},
                                    "stories": {"type": "integer"},
                                    "outlets": {"type": "array", "items": {
                                        "type": "object", "required": ["source", "stories"],
                                        "properties": {"source": {"type": "string"},
                                                       "stories": {"type": "integer"}}}},
                                    "words": {"type": "array", "items": {
                                        "type": "object", "required": ["word", "stories"],
                                        "properties": {"word": {"type": "string"},
                                                       "stories": {"type": "integer"}}}},
                                    "entities": {"type": "array", "items": {
                                        "type": "object", "required": ["kind", "name", "stories"],
                                        "properties": {
                                            "kind": {"enum": ["person", "organisation", "place"]},
                                            "name": {"type": "string"},
                                            "stories": {"type": "integer"}}},
                                        "description": "with an index built with --entities: "
                                                       "the 5 most named of each kind"}}}}}},
                    "400": _error_response("a missing or bad parameter, or an unknown one"),
                    "503": _error_response("no usable index is loaded"),
                },
            }},
            "/api/thread": {"get": {
                "summary": "The stories of an article's thread (one event across outlets and "
                           "days), first report first, with the words each adds",
                "parameters": [{"name": "id", "in": "query", "required": True,
                                "schema": {"type": "string"}, "description": "an article's id"}],
                "responses": {
                    "200": {"description": "the thread's stories", "content": {
                        "application/json": {"schema": {
                            "type": "object", "required": ["id", "stories"], "properties": {
                                "id": {"type": "string"},
                                "stories": {"type": "array", "items": {
                                    "type": "object", "required": ["article", "lead", "adds"],
                                    "properties": {
                                        "article": {"$ref": "#/components/schemas/Article"},
                                        "lead": {"type": "string",
                                                 "description": "its first passage"},
                                        "adds": {"type": "array", "items": {"type": "string"},
                                                 "description": "words of its headline and lead"
                                                                " that no earlier story has"},
                                        "also_published": {"type": "array", "items": {
                                            "$ref": "#/components/schemas/Article"}}}}}}}}}},
                    "400": _error_response("no id, or an unknown parameter"),
                    "404": _error_response("no such article, or no threads in this index"),
                },
            }},
            "/api/sources": {"get": {
                "summary": "The outlets and the languages in the index, with their article counts",
                "responses": {
                    "200": {"description": "outlets and languages, largest first", "content": {
                        "application/json": {"schema": {
                            "type": "object", "required": ["sources", "languages"], "properties": {
                                "sources": {"type": "array", "items": {"type": "object", "properties": {
                                    "source": {"type": "string"}, "articles": {"type": "integer"}}}},
                                "languages": {"type": "array", "items": {"type": "object", "properties": {
                                    "language": {"type": "string"},
                                    "articles": {"type": "integer"}}}}}}}}},
                    "503": _error_response("no usable index is loaded"),
                },
            }},
            "/api/health": {"get": {
                "summary": "Whether an index is loaded, and what it holds",
                "responses": {
                    "200": {"description": "the index served", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["status", "model", "articles", "passages"],
                        "properties": {
                            "status": {"enum": ["ok", "degraded"]},
                            "problem": {"type": ["string", "null"],
                                        "description": "when degraded: the build that did not "
                                                       "load, and which one is served instead"},
                            "index": {"type": "string"},
                            "model": {"type": "string"}, "dimension": {"type": "integer"},
                            "articles": {"type": "integer"}, "passages": {"type": "integer"},
                            "outlets": {"type": "integer"},
                            "oldest": {"type": ["string", "null"]},
                            "newest": {"type": ["string", "null"]},
                            "built_at": {"type": "string"}, "store": {"type": "string"},
                        }}}}},
                    "503": _error_response("no usable index is loaded"),
                },
            }},
            "/api/watches": {
                "get": {
                    "summary": "The saved searches (watches), each with its checks, newest first",
                    "responses": {"200": {"description": "the watches", "content": {
                        "application/json": {"schema": {
                            "type": "object", "required": ["watches"], "properties": {
                                "watches": {"type": "array",
                                            "items": {"$ref": "#/components/schemas/Watch"}}}}}}},
                        "503": _error_response("no index folder, or its watches unreadable")},
                },
                "post": {
                    "summary": "Save a search as a watch (replacing one of that name); what it "
                               "finds now is where it starts",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {
                        "type": "object", "required": ["name", "q"], "additionalProperties": False,
                        "properties": {
                            "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"},
                            "q": {"type": "string", "maxLength": MAX_QUERY_CHARS},
                            "mode": {"type": "string", "enum": list(MODES), "default": DEFAULT_MODE},
                            "since": {"type": "string"}, "until": {"type": "string"},
                            "source": {"type": "array", "items": {"type": "string"}},
                            "language": {"type": "array", "items": {"type": "string"}},
                            "entity": {"type": "array", "items": {"type": "string"}},
                            "depth": {"type": "integer", "minimum": 0, "maximum": 100,
                                      "default": 0, "description": "follow its N best ranked "
                                      "stories too, besides those that match"}}}}}},
                    "responses": {
                        "201": {"description": "the watch saved", "content": {"application/json": {
                            "schema": {"$ref": "#/components/schemas/Watch"}}}},
                        "400": _error_response("a bad name, question or filter, an unknown key, "
                                               "or too many watches"),
                        "403": _error_response("posted from another site's page"),
                        "503": _error_response("no usable index is loaded, or the watches file "
                                               "is damaged"),
                    },
                },
            },
            "/api/watches/{name}": {"get": {
                "summary": "One watch with the passages it found, newest first",
                "parameters": [{"name": "name", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "the watch and its findings", "content": {
                        "application/json": {"schema": {"allOf": [
                            {"$ref": "#/components/schemas/Watch"},
                            {"type": "object", "required": ["findings"], "properties": {
                                "findings": {"type": "array", "items": {
                                    "type": "object", "properties": {
                                        "index": {"type": "string"}, "found": {"type": "string"},
                                        "rank": {"type": "integer"}, "score": {"type": "number"},
                                        "article_id": {"type": "string"},
                                        "title": {"type": "string"},
                                        "source": {"type": "string"}, "date": {"type": "string"},
                                        "url": {"type": "string"},
                                        "position": {"type": "integer"},
                                        "passage": {"type": "string"},
                                        "key": {"type": "string"},
                                        "follows": {"type": ["string", "null"],
                                                    "description": "a story of its thread the "
                                                    "watch held before (a follow-up)"}}}}}}]}}}},
                    "404": _error_response("no watch of that name"),
                },
            }},
        },
        "components": {"schemas": {"Article": _ARTICLE, "Result": _RESULT, "Error": _ERROR,
                                   "Watch": _WATCH}},
    }
