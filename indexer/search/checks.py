"""A search's parameters checked: the query, k, mode, group, sort, page and recency."""

from __future__ import annotations

import logging
import re
from typing import Any

from indexer.filters import SURROGATE
from indexer.errors import QueryError

MAX_QUERY_CHARS = 1000
MAX_K = 100
MODES = ("hybrid", "semantic", "keyword")
EVAL_MODES = MODES + ("hybrid-rrf",)  # and RRF, the textbook fusion, to compare in `eval`
DEFAULT_MODE = "hybrid"
CANDIDATES = 1000  # passages each retriever proposes to the fusion: the pool pages are cut from
GROUPS = ("article", "passage")
SORTS = ("relevance", "date")
DATE_SORTED = 100  # sort=date orders this many of the most relevant results by date
MAX_RECENCY_DAYS = 36500
EXPLAIN_SENTENCES = 40  # at most about this many sentences embedded to explain one page
POOL_CACHE = 64  # ranked pools kept, most recent queries first
MAX_STORIES = 10_000_000  # the most a timeline or facets may be told to count
MAX_COMPARED = 2  # questions a timeline compares its own with
FACETS_SHOWN = 10  # outlets and words listed for the best matching stories
ENTITIES_SHOWN = 5  # people, organisations and places listed, of each
THREAD_ADDS = 6  # new words listed for each later story of a thread
MAX_PAGE = 100
MORE_SHOWN = 3  # other matching passages of an article listed under its best one
ANSWER_CHOICES = 6  # passages of an article a result may show (answers.py): the best and 5 more
# ... for the first ANSWERED results; below them, where a reader looks less, the best and 1 more
ANSWERED, LOWER_CHOICES = 3, 2
RELOAD_CHECK_SECONDS = 1.0

log = logging.getLogger(__name__)
LETTERS = re.compile(r"\b[^\W\d_]{3,}\b")  # a word of letters only, 3 or more: what facets list
_WORDY = re.compile(r"[^\W_]")  # a letter or a digit, in any script
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def check_mode(mode: Any) -> str:
    """mode if it is one of MODES; QueryError otherwise."""
    if mode not in MODES:
        raise QueryError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


def whole_number(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise QueryError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise QueryError(
            f"{name} must be a whole number from {low} to {high}, got {value!r}"
        ) from None
    if not low <= number <= high:
        raise QueryError(f"{name} must be from {low} to {high}, got {number}")
    return number


def check_stories(stories: Any) -> int | None:
    """How many of the matching stories to count: None (all of them) or a whole number."""
    if stories is None or stories == "":
        return None
    return whole_number("stories", stories, 1, MAX_STORIES)


def check_page(page: Any) -> int:
    """page as an int from 1 to MAX_PAGE; QueryError otherwise."""
    return whole_number("page", page, 1, MAX_PAGE)


def check_sort(sort: Any) -> str:
    """sort if it is one of SORTS; QueryError otherwise."""
    if sort not in SORTS:
        raise QueryError(f"sort must be one of {', '.join(SORTS)}, got {sort!r}")
    return sort


def check_recency(days: Any) -> int | None:
    """A recency half-life in days (1 to MAX_RECENCY_DAYS), or None for no boost."""
    if days is None or days == "":
        return None
    return whole_number("recency", days, 1, MAX_RECENCY_DAYS)


def check_group(group: Any) -> str:
    """group if it is one of GROUPS; QueryError otherwise."""
    if group not in GROUPS:
        raise QueryError(f"group must be one of {', '.join(GROUPS)}, got {group!r}")
    return group


def check_query(query: Any, k: Any = 10) -> tuple[str, int]:
    """The query stripped and k as an int; QueryError says what is wrong with either."""
    if isinstance(query, str):
        query = _CONTROL.sub("", query).strip()  # NUL and other controls are never meant
    if not isinstance(query, str) or not query:
        raise QueryError("the query is empty: type a question or some words to search for")
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(
            f"the query is {len(query)} characters long; the limit is {MAX_QUERY_CHARS}"
        )
    broken = SURROGATE.search(query)
    if broken:  # from a JSON "\ud800" or bytes that are not UTF-8: no text to embed
        raise QueryError(f"the query is not valid text (a broken character at position "
                         f"{broken.start() + 1}): send it as UTF-8")
    if not _WORDY.search(query):  # '""', "???", "🙂": neither meaning nor words to search by
        raise QueryError("the query holds no word, only signs: type a question or some words "
                         "to search for")
    return query, whole_number("k", k, 1, MAX_K)


