"""Search filters: a date range and outlets, checked and normalised once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from .errors import QueryError

_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
MAX_SOURCES = 50


@dataclass(frozen=True)
class Filters:
    """Which articles may answer: dated since..until (inclusive, ISO prefixes), from sources."""

    since: str = ""
    until: str = ""
    sources: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.since or self.until or self.sources)

    def to_dict(self) -> dict:
        """The filters as JSON, only those set."""
        data = {"since": self.since, "until": self.until, "source": list(self.sources)}
        return {k: v for k, v in data.items() if v}


def _is_date(value: str) -> bool:
    if not _DATE.match(value):
        return False
    try:
        datetime.strptime(value, ("%Y", "%Y-%m", "%Y-%m-%d")[value.count("-")])
    except ValueError:
        return False
    return True


def make_filters(since: str | None = None, until: str | None = None,
                 sources: Iterable[str] = ()) -> Filters:
    """Filters from user input; QueryError names the parameter that is wrong."""
    since, until = (since or "").strip(), (until or "").strip()
    for name, value in (("since", since), ("until", until)):
        if value and not _is_date(value):
            raise QueryError(f"{name} must be a date as YYYY-MM-DD (or YYYY-MM, YYYY), got {value!r}")
    if since and until and since > until:
        raise QueryError(f"since ({since}) is after until ({until})")
    cleaned = tuple(dict.fromkeys(s.strip() for s in sources if s and s.strip()))
    if len(cleaned) > MAX_SOURCES:
        raise QueryError(f"at most {MAX_SOURCES} sources, got {len(cleaned)}")
    return Filters(since, until, cleaned)
