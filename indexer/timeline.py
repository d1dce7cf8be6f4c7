"""When a subject was in the news: matching stories counted per day, week or month."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Iterable

from .errors import QueryError

INTERVALS = ("auto", "day", "week", "month", "year")
_COARSER = ("day", "week", "month", "year")
MAX_BUCKETS = 400


@dataclass(frozen=True)
class Bucket:
    """A period (first and last day, inclusive) and how many stories fall in it."""

    start: date
    end: date
    count: int

    def to_dict(self) -> dict:
        """The bucket as JSON."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "count": self.count}


@dataclass(frozen=True)
class Timeline:
    """Stories per period, gaps filled with zeros, and how many had no usable date."""

    interval: str
    buckets: list[Bucket] = field(default_factory=list)
    undated: int = 0

    @property
    def peak(self) -> int:
        """The largest count, for scaling a chart."""
        return max((b.count for b in self.buckets), default=0)

    def to_dict(self) -> dict:
        """The timeline as JSON."""
        return {"interval": self.interval, "buckets": [b.to_dict() for b in self.buckets],
                "undated": self.undated}


def check_interval(interval: str) -> str:
    """interval if it is one of INTERVALS; QueryError otherwise."""
    if interval not in INTERVALS:
        raise QueryError(f"interval must be one of {', '.join(INTERVALS)}, got {interval!r}")
    return interval


def _period(day: date, interval: str) -> tuple[date, date]:
    if interval == "day":
        return day, day
    if interval == "week":  # ISO weeks, Monday to Sunday
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    if interval == "year":
        return day.replace(month=1, day=1), day.replace(month=12, day=31)
    start = day.replace(day=1)
    following = (start + timedelta(days=32)).replace(day=1)
    return start, following - timedelta(days=1)


def _bucket_count(first: date, last: date, interval: str) -> int:
    if interval == "day":
        return (last - first).days + 1
    if interval == "week":
        return (last - first).days // 7 + 2
    if interval == "month":
        return (last.year - first.year) * 12 + last.month - first.month + 1
    return last.year - first.year + 1


def count_by_period(dates: Iterable[str], interval: str = "auto") -> Timeline:
    """Count ISO dates (one per story) per period. "auto", or an interval too fine for the span,
    becomes the finest interval that keeps the chart within MAX_BUCKETS bars."""
    days, undated = [], 0
    for text in dates:
        try:
            days.append(date.fromisoformat(text[:10]))
        except ValueError:
            undated += 1
    if not days:
        return Timeline("day" if interval == "auto" else interval, [], undated)
    first, last_day = min(days), max(days)
    if interval == "auto":
        span = (last_day - first).days
        interval = "day" if span <= 62 else "week" if span <= 7 * 104 else "month"
    for coarser in _COARSER[_COARSER.index(interval):]:
        interval = coarser
        if _bucket_count(first, last_day, interval) <= MAX_BUCKETS:
            break
    counts: dict[date, int] = {}
    for day in days:
        start = _period(day, interval)[0]
        counts[start] = counts.get(start, 0) + 1
    buckets, start = [], _period(min(days), interval)[0]
    last = _period(max(days), interval)[0]
    while start <= last:
        begin, end = _period(start, interval)
        buckets.append(Bucket(begin, end, counts.get(begin, 0)))
        start = end + timedelta(days=1)
    return Timeline(interval, buckets, undated)
