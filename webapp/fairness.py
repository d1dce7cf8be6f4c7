"""Heavy requests (batches, exports) share a worker with searches without starving them.

A worker answers one request's Python at a time. A batch of 100 questions or an export of
1,000 results is hundreds of milliseconds of it: run whole, every search that reaches that
worker meanwhile waits for all of it. So a heavy request works in slices (a question, a page of
results) and yields between them, and a worker runs one heavy request at a time: a search
waits for one slice at most, never for a queue of heavy work. A client may have at most
HEAVY_PER_CLIENT heavy requests in a worker at once; more are a 429 that says when to retry.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from contextlib import contextmanager
from typing import Iterable, Iterator, TypeVar

from flask import Flask, g, request
from werkzeug.exceptions import TooManyRequests

HEAVY_PER_CLIENT = 2
RETRY_AFTER_SECONDS = 2
# A timer, not sleep(0): gevent runs zero-second sleeps as callbacks, one after another,
# without looking at its sockets, so a new connection waited for many slices.
POLL_SECONDS = 0.001
MAX_PAUSE_SECONDS = 2.0  # a heavy request waits for light ones this long at most a slice
T = TypeVar("T")

_counts: Counter[str] = Counter()
_counts_lock = threading.Lock()
_gate = None
_light = 0  # requests of this worker under way that are not heavy
HEAVY_ENDPOINTS = frozenset({"api.batch", "api.export", "pages.batch", "pages.batch_csv"})


def _heavy_gate():  # noqa: ANN202 - a semaphore of gevent's or of threading's
    """One heavy request at a time: a greenlet's semaphore where gevent serves (a thread's
    would stop the whole worker), a thread's where threads do."""
    global _gate
    if _gate is None:
        try:
            from gevent import monkey
            from gevent.lock import BoundedSemaphore

            _gate = BoundedSemaphore(1) if monkey.is_module_patched("socket") else None
        except ImportError:
            pass
        _gate = _gate or threading.BoundedSemaphore(1)
    return _gate


@contextmanager
def heavy() -> Iterator[None]:
    """Run a heavy request's work: 429 when its client has HEAVY_PER_CLIENT under way here
    already; else when no other heavy request runs in this worker."""
    client = request.remote_addr or ""
    with _counts_lock:
        if _counts[client] >= HEAVY_PER_CLIENT:
            raise TooManyRequests(f"at most {HEAVY_PER_CLIENT} batches or exports at once from "
                                  "one address: wait for one to finish",
                                  retry_after=RETRY_AFTER_SECONDS)
        _counts[client] += 1
    try:
        with _heavy_gate():
            yield
    finally:
        with _counts_lock:
            _counts[client] -= 1
            if not _counts[client]:
                del _counts[client]


def slices(items: Iterable[T], every: int = 1) -> Iterator[T]:
    """items, letting the worker answer others after every `every` of them: the heavy request
    waits while a light one is under way (time.sleep is gevent's where gevent serves). A
    yield alone is not enough: a search that reads its request, answers and sends takes
    several turns of the event loop, each of which would otherwise run one more slice."""
    for n, item in enumerate(items, 1):
        yield item
        if n % every:
            continue  # items made by one slice of work (rows of one page): no pause
        time.sleep(POLL_SECONDS)
        until = time.monotonic() + MAX_PAUSE_SECONDS
        while _light and time.monotonic() < until:
            time.sleep(POLL_SECONDS)


def register(app: Flask) -> None:
    """Count the light requests under way (all but those marked heavy by their views)."""

    @app.before_request
    def light_starts() -> None:
        global _light
        if request.endpoint not in HEAVY_ENDPOINTS:
            g.light = True
            _light += 1

    @app.teardown_request
    def light_ends(exc: BaseException | None = None) -> None:  # noqa: ARG001
        global _light
        if g.pop("light", False):
            _light -= 1
