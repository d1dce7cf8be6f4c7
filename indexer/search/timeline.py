"""When a subject was in the news: matching stories counted per day, week or month."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Iterable, Sequence

import numpy as np

from indexer.dates import day_of
from indexer.errors import QueryError

INTERVALS = ("auto", "day", "week", "month", "year")
_COARSER = ("day", "week", "month", "year")
MAX_BUCKETS = 400


@dataclass(frozen=True)
class Bucket:
    """A period (first and last day, inclusive), how many stories fall in it and, for a share,
    how many stories of the archive (within the filters) do."""

    start: date
    end: date
    count: int
    total: int | None = None

    @property
    def share(self) -> float | None:
        """count as a share of total (0 where the period has no story at all)."""
        if self.total is None:
            return None
        return self.count / self.total if self.total else 0.0

    def to_dict(self) -> dict:
        """The bucket as JSON."""
        found = {"start": self.start.isoformat(), "end": self.end.isoformat(), "count": self.count}
        if self.total is not None:
            found.update(total=self.total, share=round(self.share, 4))
        return found


@dataclass(frozen=True)
class Timeline:
    """Stories per period, gaps filled with zeros, and how many had no usable date."""

    interval: str
    buckets: list[Bucket] = field(default_factory=list)
    undated: int = 0
    query: str = ""
    matching: int = 0  # the stories that match the question, counted or not (a cap)

    @property
    def stories(self) -> int:
        """The stories counted: those in the periods and the undated."""
        return sum(b.count for b in self.buckets) + self.undated

    @property
    def peak(self) -> int:
        """The largest count, for scaling a chart."""
        return max((b.count for b in self.buckets), default=0)

    @property
    def peak_share(self) -> float:
        """The largest share (0 without shares)."""
        return max((b.share or 0.0 for b in self.buckets), default=0.0)

    def to_dict(self) -> dict:
        """The timeline as JSON."""
        return {"interval": self.interval, "matching": self.matching, "stories": self.stories,
                "buckets": [b.to_dict() for b in self.buckets], "undated": self.undated}

    def with_totals(self, stories: np.ndarray, days: np.ndarray) -> "Timeline":
        """This timeline with each period's total: the distinct stories among (story, day)
        pairs (an archive's dated articles) with an article in it. A matching story is counted
        in the period of one of its articles, so a share is never above 1."""
        if not self.buckets:
            return self
        starts = np.array([b.start.toordinal() for b in self.buckets])
        ends = np.array([b.end.toordinal() for b in self.buckets])
        at = np.searchsorted(starts, days, side="right") - 1
        inside = (at >= 0) & (days <= ends[np.clip(at, 0, None)])
        pairs = np.unique(np.stack([at[inside], stories[inside]]), axis=1)
        totals = np.bincount(pairs[0], minlength=len(starts)) if pairs.size else \
            np.zeros(len(starts), dtype=np.int64)
        return replace(self, buckets=[replace(b, total=int(t))
                                      for b, t in zip(self.buckets, totals)])


def timelines_json(timelines: Sequence[Timeline], filters: dict) -> dict:
    """Timelines as the API gives them: the first one's fields, the others under "compare"."""
    first, *others = timelines
    found = {"query": first.query, "filters": filters, **first.to_dict()}
    if others:
        found["compare"] = [{"query": t.query, **t.to_dict()} for t in others]
    return found


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


def _days(dates: Iterable[str]) -> tuple[list[date], int]:
    days, undated = [], 0
    for text in dates:
        day = day_of(text)
        if day is None:
            undated += 1
        else:
            days.append(day)
    return days, undated


def count_together(series: Sequence[Iterable[str]], interval: str = "auto") -> list[Timeline]:
    """count_by_period for several lists of dates on the same periods: those the dates of all
    of them span (a list without a date in it counts zeros there)."""
    found = [_days(dates) for dates in series]
    every = [day for days, _ in found for day in days]
    if not every:
        return [Timeline("day" if interval == "auto" else interval, [], undated)
                for _, undated in found]
    first, last = min(every), max(every)
    interval = _interval(first, last, interval)
    return [_count(days, undated, interval, first, last) for days, undated in found]


def count_by_period(dates: Iterable[str], interval: str = "auto") -> Timeline:
    """Count ISO dates (one per story) per period. "auto", or an interval too fine for the span,
    becomes the finest interval that keeps the chart within MAX_BUCKETS bars."""
    return count_together([dates], interval)[0]


def _interval(first: date, last: date, interval: str) -> str:
    """The interval asked for, or for "auto" the one the span asks for; coarser where it would
    make more than MAX_BUCKETS periods."""
    if interval == "auto":
        span = (last - first).days
        interval = "day" if span <= 62 else "week" if span <= 7 * 104 else "month"
    for coarser in _COARSER[_COARSER.index(interval):]:
        interval = coarser
        if _bucket_count(first, last, interval) <= MAX_BUCKETS:
            break
    return interval


def _count(days: list[date], undated: int, interval: str, first: date, last_day: date
           ) -> Timeline:
    """days counted in the periods of interval from first's to last_day's."""
    counts: dict[date, int] = {}
    for day in days:
        start = _period(day, interval)[0]
        counts[start] = counts.get(start, 0) + 1
    buckets, start = [], _period(first, interval)[0]
    last = _period(last_day, interval)[0]
    while start <= last:
        begin, end = _period(start, interval)
        buckets.append(Bucket(begin, end, counts.get(begin, 0)))
        start = end + timedelta(days=1)
    return Timeline(interval, buckets, undated)
