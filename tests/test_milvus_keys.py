"""What the Milvus backend computes without a server: dates as the filters compare them, the
stories a build on a cluster finds from pairs of copies, a search's calls asked at once, and
what its reads keep."""

from __future__ import annotations

import re
import threading
import time
from itertools import product

import pytest

from indexer.building.cluster_stories import _stories
from indexer.dates import passes_date_filters
from indexer.filters import make_filters
from indexer.retrieval.milvus.client import date_key, filter_expression
from indexer.retrieval.milvus.reads import Recent
from indexer.retrieval.milvus.search import at_once

DATES = ["2016", "2016-05", "2016-05-10", "2016-05-10T23:59:00Z", "2016-05-31", "2016-06-01",
         "2016-12-31 08:00", "2017-01-01", "1999-02", "2399-12-31", "9999-12-31", "0001-01-01",
         "not a date", "", "2016-13-45", "20160510"]


def passes(date: str, expression: str) -> bool:
    """Whether a date passes the Milvus filter's bounds on date_key."""
    key = date_key(date)
    low = re.search(r"date_key >= (-?\d+)", expression)
    high = re.search(r"date_key <= (-?\d+)", expression)
    return (not low or key >= int(low[1])) and (not high or key <= int(high[1]))


def test_milvus_filters_dates_as_the_local_index_compares_them():
    periods = ["", "2016", "2016-05", "2016-05-10", "2017"]
    for since, until in product(periods, periods):
        if not since and not until or since and until and since > until:
            continue  # no filter, or one refused
        expression = filter_expression(make_filters(since=since or None, until=until or None))
        for date in DATES:  # the local index: a date passing the filters, compared as text
            local = passes_date_filters(date) and (not since or date >= since) and \
                (not until or date <= until + "~")
            assert passes(date, expression) == local, (date, since, until, expression)


def test_copies_found_on_a_cluster_are_stories_named_by_their_first_article():
    # 5 copies 1 (through 3), 9 and 7 are one story; 20 and 21 another; 30 is alone.
    found = _stories([(3, 5), (1, 3), (7, 9), (9, 5), (21, 20)])
    assert found == {1: (1, 5), 3: (1, 5), 5: (1, 5), 7: (1, 5), 9: (1, 5),
                     20: (20, 2), 21: (20, 2)}
    assert 30 not in found


def test_a_search_asks_its_first_milvus_calls_side_by_side_and_raises_what_one_raised():
    met = threading.Barrier(3, timeout=5)  # each ask waits until all three are under way
    started = time.perf_counter()
    found = at_once({name: (lambda name=name: (met.wait(), name)[1]) for name in "abc"})
    assert found == {"a": "a", "b": "b", "c": "c"}
    assert time.perf_counter() - started < 5
    ended = []

    def slow() -> str:
        time.sleep(0.2)
        ended.append("slow")
        return "slow"

    def broken() -> str:
        raise ValueError("Milvus said no")

    with pytest.raises(ValueError, match="Milvus said no"):
        at_once({"broken": broken, "slow": slow})
    assert ended == ["slow"]  # the other call ended before the error was raised
    assert at_once({}) == {}


def test_what_a_search_found_again_outlives_what_it_found_once():
    """The reads' cache keeps the last limit to 2 * limit entries put; an entry put again is
    new again, so a search's candidates found before are still there after its range search
    (thousands of passages) fills the rest."""
    kept = Recent(100)
    kept.update((i, f"early {i}") for i in range(200))  # searches before
    kept.update((i, f"again {i}") for i in range(10))  # a new search finds 10 of them again
    assert kept.get(50) == "early 50"
    kept.update((i, "range") for i in range(1000, 1150))  # and many more after them
    assert all(kept.get(i) == f"again {i}" and i in kept for i in range(10))
    assert kept.get(50) is None and 50 not in kept and kept.get(50, "gone") == "gone"
    assert kept[1149] == "range" and len(kept.new) + len(kept.old) <= 200
    with pytest.raises(KeyError):
        kept[50]
