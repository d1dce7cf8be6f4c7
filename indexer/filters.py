"""Search filters: a date range and outlets, checked and normalised once; outlets as people
name them ("CNN", "cnn.com", "www.cnn.com") found among an index's own."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Iterable

from indexer.errors import QueryError

_DATE = re.compile(r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$")  # ASCII digits: "٢٠١٦" is no year
# Half of a UTF-16 pair alone (JSON's "\ud800"): no encoding can write it, so it is no text.
SURROGATE = re.compile("[\ud800-\udfff]")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
MAX_SOURCES = 50
MAX_ENTITIES = 10
MAX_ENTITY_CHARS = 80
MAX_SOURCE_CHARS = 200  # an outlet's name or host, normalised
HOST = re.compile(r"^(?:www\.)?((?:[a-z0-9-]+\.)+[a-z]{2,})$", re.I)  # a bare host name
# Labels of a host that name no outlet: "cnn.com" is CNN, "europe.chinadaily.com.cn" China Daily.
_GENERIC_LABELS = frozenset("www com net org co gov edu ac int info news go uk us au ca cn de fr "
                            "ie in jp it es nl ru ch be at se no dk fi nz za br mx".split())
KNOWN_SHOWN = 20  # outlets named in the error for one that is not in the index


@dataclass(frozen=True)
class Filters:
    """Which articles may answer: dated since..until (inclusive, ISO prefixes), from sources."""

    since: str = ""
    until: str = ""
    sources: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()  # ISO 639-1 codes, as detected when indexed
    entities: tuple[str, ...] = ()  # names an article must all mention (index --entities)

    def __bool__(self) -> bool:
        return bool(self.since or self.until or self.sources or self.languages or self.entities)

    def to_dict(self) -> dict:
        """The filters as JSON, only those set."""
        data = {"since": self.since, "until": self.until, "source": list(self.sources),
                "language": list(self.languages), "entity": list(self.entities)}
        return {k: v for k, v in data.items() if v}


def _is_date(value: str) -> bool:
    if not _DATE.match(value):
        return False
    try:
        datetime.strptime(value, ("%Y", "%Y-%m", "%Y-%m-%d")[value.count("-")])
    except ValueError:
        return False
    return True


def _first_day(value: str) -> date:
    """The first day of the period a checked date names: a day, a month or a year."""
    parts = [int(p) for p in value.split("-")]
    return date(parts[0], *(parts[1:] + [1, 1])[:2])


def _last_day(value: str) -> date:
    """The last day of the period a checked date names."""
    parts = [int(p) for p in value.split("-")]
    if len(parts) == 3:
        return date(*parts)
    year, month = parts[0], parts[1] if len(parts) == 2 else 12
    return date(year, month, calendar.monthrange(year, month)[1])


def _key(name: str) -> str:
    """A name as outlets are matched: case, spaces, punctuation and a leading "www." ignored."""
    return re.sub(r"[\W_]+", "", name.casefold().removeprefix("www."))


def _names(outlet: str) -> set[str]:
    """The keys an outlet answers to: its name or host, its host's own labels ("cnn.com":
    "cnn"), and the first words of a name ("BBC News": "bbc")."""
    keys = {_key(outlet)}
    host = HOST.match(outlet.strip())
    if host:
        keys |= {label for label in host.group(1).lower().split(".")
                 if label not in _GENERIC_LABELS}
    else:
        words = re.findall(r"\w+", outlet.casefold())
        keys |= {"".join(words[:n]) for n in range(1, len(words)) if len("".join(words[:n])) > 1}
    return keys


def resolve_sources(filters: Filters, known: Iterable[tuple[str, int]]) -> Filters:
    """filters with each outlet asked for replaced by the index's outlets it names (known:
    (outlet, articles) pairs, largest first); QueryError naming the known ones when one names
    none of them."""
    if not filters.sources:
        return filters
    known = list(known)
    keys = [(outlet, _names(outlet)) for outlet, _ in known]
    found: dict[str, None] = {}
    for asked in filters.sources:
        key = _key(asked)
        matched = [outlet for outlet, names in keys if key in names]
        if not matched:
            shown = ", ".join(outlet for outlet, _ in known[:KNOWN_SHOWN])
            more = f" and {len(known) - KNOWN_SHOWN} more (GET /api/sources)" \
                if len(known) > KNOWN_SHOWN else ""
            raise QueryError(f"no outlet {asked!r} in this index; its outlets: {shown}{more}"
                             if known else f"no outlet {asked!r}: this index names no outlets")
        found.update(dict.fromkeys(matched))
    return replace(filters, sources=tuple(found))


def check_languages(filters: Filters, known: Iterable[tuple[str, int]]) -> Filters:
    """filters, if the index has an article in each language asked for (known: (language,
    articles) pairs, largest first); QueryError naming the known ones otherwise."""
    have = {code for code, _ in known if code}
    for asked in filters.languages:
        if asked not in have:
            shown = ", ".join(f"{code} ({n})" for code, n in known if code)
            raise QueryError(f"no article in language {asked!r} in this index; its languages: "
                             f"{shown}" if have else f"no article in language {asked!r}: this "
                             "index has no languages (built before they were detected: update "
                             "it with `news-search index PATH --update`)")
    return filters


def _outlet(asked: str | None) -> str:
    """An outlet as asked for, normalised as it is matched (_key ignores what this drops):
    runs of spaces one space, runs of dots one dot, none at either end."""
    return re.sub(r"\.{2,}", ".", " ".join((asked or "").split())).strip(" .")


def make_filters(since: str | None = None, until: str | None = None,
                 sources: Iterable[str] = (), languages: Iterable[str] = (),
                 entities: Iterable[str] = ()) -> Filters:
    """Filters from user input; QueryError names the parameter that is wrong."""
    since, until = (since or "").strip(), (until or "").strip()
    sources, languages, entities = list(sources), list(languages), list(entities)
    for value in (since, until, *sources, *languages, *entities):
        if isinstance(value, str) and SURROGATE.search(value):
            raise QueryError(f"a filter is not valid text (a broken character in "
                             f"{value.encode('utf-8', 'replace')[:40]!r}): send it as UTF-8")
    for name, value in (("since", since), ("until", until)):
        if value and not _is_date(value):
            raise QueryError(
                f"{name} must be a date as YYYY-MM-DD (or YYYY-MM, YYYY), got {value!r}"
            )
    if since and until and _first_day(since) > _last_day(until):
        raise QueryError(f"since ({since}) is after until ({until})")
    cleaned = tuple(dict.fromkeys(n for n in map(_outlet, sources) if n))
    if len(cleaned) > MAX_SOURCES:
        raise QueryError(f"at most {MAX_SOURCES} sources, got {len(cleaned)}")
    for outlet in cleaned:
        if len(outlet) > MAX_SOURCE_CHARS:
            raise QueryError(f"source must be an outlet's name or host of at most "
                             f"{MAX_SOURCE_CHARS} characters, got {len(outlet)}")
    codes = tuple(dict.fromkeys(c.strip().lower() for c in languages if c and c.strip()))
    for code in codes:
        if not _LANGUAGE.match(code):
            raise QueryError(f"language must be a two-letter ISO 639-1 code such as en or de, "
                             f"got {code[:40]!r}")
    if len(codes) > MAX_SOURCES:
        raise QueryError(f"at most {MAX_SOURCES} languages, got {len(codes)}")
    names = tuple(dict.fromkeys(" ".join(e.split()) for e in entities if e and e.strip()))
    if len(names) > MAX_ENTITIES or any(len(n) > MAX_ENTITY_CHARS for n in names):
        raise QueryError(f"at most {MAX_ENTITIES} entities of at most {MAX_ENTITY_CHARS} "
                         "characters each")
    return Filters(since, until, cleaned, codes, names)
