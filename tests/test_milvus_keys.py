"""What the Milvus backend computes without a server: dates as the filters compare them, and the
stories a build on a cluster finds from pairs of copies."""

from __future__ import annotations

import re
from itertools import product

from indexer.building.cluster_stories import _stories
from indexer.dates import passes_date_filters
from indexer.filters import make_filters
from indexer.retrieval.milvus.client import date_key, filter_expression

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
