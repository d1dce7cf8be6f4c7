"""The Article record and the rules that turn a loose input record into one."""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping
from urllib.parse import urlsplit

from dateutil import parser as dateparser

from indexer.filters import HOST, SURROGATE
from indexer.sizes import human_size, utf8_over

# Input names each field is known by, most specific first. Keys are compared after
# lower-casing and dropping spaces, dashes and underscores ("Publish Date" == "publish_date").
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "articleid", "docid", "_id", "guid", "uuid"),
    "title": ("title", "headline", "heading"),
    "text": (
        "text", "body", "content", "articlebody", "article", "story", "fulltext",
        "maintext", "description", "summary", "abstract",
    ),
    "date": (
        "date", "published", "publishdate", "publishedat", "pubdate", "datepublished",
        "publicationdate", "datetime", "timestamp", "createdat", "time",
    ),
    "source": (
        "source", "outlet", "publisher", "publication", "sitename", "site", "sourcename",
        "newspaper", "agency", "domain",
    ),
    "url": ("url", "link", "href", "permalink", "canonicalurl", "sourceurl", "articlesourcelink",
            "uri"),
}

# Lines that pages carry around an article and that are not part of its story.
_BOILERPLATE = re.compile(
    r"^\s*(please follow our commenting guidelines\.?|comments are closed\.?"
    r"|comments? \(\d+\)|share this( article| story)?:?|advertisement|sign up for our newsletter\.?"
    r"|follow us on (twitter|facebook|instagram)\.?|all rights reserved\.?)\s*$",
    re.IGNORECASE,
)
_BULLETS = "•·▪►■◆●-–—*"
_YEAR = re.compile(r"(1[6-9]|2[0-9])\d\d")
_WS = re.compile(r"[ \t\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\x00"), None)
UNTITLED = "(untitled)"  # what an article without a headline is called, everywhere
MAX_ID_CHARS = 1000  # a longer id is replaced by one made from the article (derive_id)
# Inside an id: a run of whitespace or control characters (a tab, a line break) is one space.
_ID_GAPS = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")


@dataclass(frozen=True)
class Article:
    """One news article as the index stores it."""

    id: str
    title: str
    text: str
    date: str = ""
    source: str = ""
    url: str = ""
    origin: str = field(default="", compare=False)  # where it was read: "file" or "file:line"
    language: str = field(default="", compare=False)  # detected when indexed: "en", or ""

    @property
    def heading(self) -> str:
        """The headline as shown: an untitled article is UNTITLED on the page, in the API, in
        exports, feeds and on a terminal alike."""
        return self.title or UNTITLED

    def to_dict(self) -> dict[str, str]:
        """The article's public fields, for JSON (every result has one: no deep copy)."""
        return {"id": self.id, "title": self.heading, "date": self.date, "source": self.source,
                "url": self.url, "language": self.language}

    @property
    def content_hash(self) -> str:
        """A hash of everything that is indexed, to tell a changed article from an unchanged one."""
        digest = hashlib.sha1()
        for part in (self.title, self.text, self.date, self.source, self.url):
            digest.update(part.encode("utf-8", "surrogatepass") + b"\x1f")
        return digest.hexdigest()


class RecordError(ValueError):
    """A record that cannot become an article; the message says which field and why."""


def _norm_key(key: str) -> str:
    return re.sub(r"[\s_\-.]+", "", str(key)).lower() if key != "_id" else "_id"


def pick_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    """Map a record's keys onto Article fields by FIELD_ALIASES; unknown keys are ignored."""
    by_key = {_norm_key(k): v for k, v in record.items()}
    picked: dict[str, Any] = {}
    for name, aliases in FIELD_ALIASES.items():
        for alias in aliases:
            value = by_key.get(alias)
            if value not in (None, "", [], {}):
                picked[name] = value
                break
    return picked


def printable(value: str | os.PathLike) -> str:
    """Text that any file, database or terminal takes: a file name's bytes that are not UTF-8
    as \\xNN escapes (so an id made from it is stable), other lone surrogates as U+FFFD."""
    text = os.fspath(value)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not SURROGATE.search(text):
        return text
    return SURROGATE.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}"
                          if "\udc80" <= m.group() <= "\udcff" else "\ufffd", text)


def clean_id(value: str) -> str:
    """An id as the index keeps it: as given, but trimmed, with each run of whitespace or control
    characters inside it made one space (so every id can be written in a link and a log)."""
    return _ID_GAPS.sub(" ", printable(value)).strip()


def clean_text(text: str) -> str:
    """Normalise whitespace and drop page boilerplate, keeping paragraphs apart."""
    if SURROGATE.search(text):
        text = SURROGATE.sub("\ufffd", text)
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    paragraphs: list[str] = []
    current: list[str] = []
    for raw_line in text.split("\n"):
        line = _WS.sub(" ", raw_line).strip()
        if not line or _BOILERPLATE.match(line):
            if current:
                paragraphs.append(" ".join(current))
                current = []
            continue
        current.append(line)
    if current:
        paragraphs.append(" ".join(current))
    return "\n\n".join(paragraphs)


def clean_title(title: str) -> str:
    """A headline on one line, without the bullet or quotes that pages put before it."""
    title = clean_text(str(title)).replace("\n\n", " ")
    return title.lstrip(_BULLETS + " ").strip()


def normalise_date(value: Any) -> str:
    """ISO 8601 (date, or date and time when one is given) where it parses; else the raw text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value > 1e11:  # milliseconds since the epoch
            value = value / 1000
        try:
            return datetime.fromtimestamp(value, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        except (OverflowError, OSError, ValueError):
            return str(value)
    raw = clean_title(str(value))
    if not raw or not _YEAR.search(raw):
        return raw  # "Monday" or "5" would parse as a day of this month: keep as written
    try:
        parsed = dateparser.parse(raw, default=datetime(1900, 1, 1))
    except (ValueError, OverflowError, TypeError):
        return raw
    has_time = bool(re.search(r"\d:\d\d", raw))
    if not has_time:
        return parsed.date().isoformat()
    if parsed.tzinfo is not None:
        return parsed.isoformat(timespec="seconds")
    return parsed.replace(microsecond=0).isoformat()


def clean_source(source: str) -> str:
    """An outlet's name as given, but a bare host name ("www.CNN.com") lower-cased and without
    "www.", as source_from_url makes it."""
    source = clean_title(source)
    return source.lower().removeprefix("www.") if HOST.match(source) else source


def source_from_url(url: str) -> str:
    """The outlet's host name, without 'www.', as a stand-in when a record names no outlet."""
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.")


def title_from_url(url: str) -> str:
    """A headline from a URL's last path segment ("/2017/03/tornadoes-ravage-states-1703.html"
    gives "Tornadoes ravage states"), or "" when the slug holds fewer than two words.
    """
    slug = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    slug = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", slug)
    words = [w for w in re.split(r"[-_+\s]+", slug) if w]
    while words and words[-1].isdigit() and len(words[-1]) >= 5:  # a trailing numeric id
        words.pop()
    if sum(any(c.isalpha() for c in w) for w in words) < 2:
        return ""
    title = " ".join(words)
    return title[0].upper() + title[1:]


def derive_id(fields: Mapping[str, Any]) -> str:
    """A stable id for an article that has none: from its URL, else from its headline and text."""
    basis = str(fields.get("url") or "") or f"{fields.get('title', '')}\x1f{fields.get('text', '')}"
    return hashlib.sha1(basis.encode("utf-8", "replace")).hexdigest()[:16]


def _as_text(value: Any, name: str) -> str:
    if isinstance(value, Mapping) and name == "source":  # NewsAPI's {"id": ..., "name": ...}
        value = value.get("name") or value.get("title") or value.get("id") or ""
    if isinstance(value, (list, tuple)):
        if not all(isinstance(v, (str, int, float)) for v in value):
            raise RecordError(f"field '{name}' is a list of {type(value[0]).__name__}, not text")
        value = "\n\n".join(str(v) for v in value) if name == "text" else ", ".join(map(str, value))
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise RecordError(f"field '{name}' is {type(value).__name__}, not text")
    return str(value)


def make_article(record: Mapping[str, Any], origin: str = "", default_id: str = "",
                 max_bytes: int | None = None) -> Article:
    """Build an Article from a loose record (any of the FIELD_ALIASES); RecordError if unusable.

    An article with a headline but no body (a live blog, say) is kept: its headline is searchable;
    one with only a URL is kept under a headline made from the URL's words. One whose headline
    and text together take more than max_bytes (UTF-8) is refused.
    """
    if not isinstance(record, Mapping):
        raise RecordError(f"expected an object with article fields, got {type(record).__name__}")
    fields = pick_fields(record)
    raw_text = _as_text(fields.get("text", ""), "text")
    raw_title = _as_text(fields.get("title", ""), "title")
    if max_bytes is not None and utf8_over(raw_title + raw_text, max_bytes):
        raise RecordError(f"article is over the article size limit of {human_size(max_bytes)}: "
                          "not read (raise --max-article-size to read it)")
    text = clean_text(raw_text)
    title = clean_title(raw_title)
    url = clean_title(_as_text(fields.get("url", ""), "url"))
    if not text and not title:  # a bare link: its slug is the only headline there is
        title = title_from_url(url)
    if not text and not title:
        known = ", ".join(FIELD_ALIASES["text"][:4])
        raise RecordError(f"no headline and no article text: none of the fields title, {known}, ..."
                          " holds text, and the URL (if any) has no words in it")
    source = clean_source(_as_text(fields.get("source", ""), "source")) or source_from_url(url)
    date = normalise_date(fields["date"]) if "date" in fields else ""
    raw_id = fields.get("id")
    article_id = clean_id(_as_text(raw_id, "id") if raw_id is not None else default_id)
    if not article_id or len(article_id) > MAX_ID_CHARS:  # a link must hold it
        article_id = derive_id({"url": url, "title": title, "text": text})
    return Article(id=article_id, title=title, text=text, date=date, source=source, url=url,
                   origin=origin)
