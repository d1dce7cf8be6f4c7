"""Milvus as a backend: its address, the connection, term keys, filter expressions, and
errors said as a 503."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from hashlib import blake2b
from itertools import islice
from typing import Any, Iterable

import numpy as np

from indexer.dates import day_number, passes_date_filters
from indexer.errors import IndexerError
from indexer.filters import Filters

SCHEME = "milvus://"
CONNECT_TRIES, CONNECT_SECONDS = 3, 10  # handshakes tried before a server is called unreachable
MAX_STRING = 16_000  # characters a string field holds (Milvus counts at most 65,535 bytes)
BATCH = 500  # rows an insert sends
KEEP_BUILDS = 2  # the build served and the one before it, as in a local index folder
SEEN = 20_000  # passages whose article, story and day are kept from the searches that found them
# Milvus computes BM25 (its BM25 function) over our terms (terms.analyse, terms.phrases), so
# that its answers are the local index's: each term written as a token of TOKEN_CHARS base-36
# characters hashed from it, one word to any analyzer. A text field holds MAX_STRING * 4
# bytes: an article's first MAX_TERMS terms are weighed (a news article has far fewer).
TOKEN_CHARS = 8
MAX_TERMS = MAX_STRING * 4 // (TOKEN_CHARS + 1)
K1, B = 1.2, 0.75  # as the local index's (storage/keywords.py)
log = logging.getLogger(__name__)


class BackendUnavailableError(IndexerError):
    """The Milvus server cannot be reached or failed to answer (a 503 to the web's clients)."""


@dataclass(frozen=True)
class MilvusAddress:
    """Where an index lives in Milvus: milvus://HOST:PORT/NAME."""

    host: str
    port: int
    name: str

    @classmethod
    def parse(cls, text: str) -> MilvusAddress:
        """The address written as milvus://HOST:PORT/NAME; an IndexerError says what is wrong."""
        found = re.fullmatch(r"milvus://([^/:]+|\[[0-9a-fA-F:]+\]):(\d{1,5})/([A-Za-z_][A-Za-z0-9_]{0,100})",
                             text.strip())
        if not found:
            raise IndexerError(f"backend {text!r} is not of the form milvus://HOST:PORT/NAME "
                               "(NAME: letters, digits and _, starting with a letter)")
        return cls(found[1], int(found[2]), found[3])

    @property
    def uri(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __str__(self) -> str:
        return f"milvus://{self.host}:{self.port}/{self.name}"


def is_milvus(backend: str | None) -> bool:
    """Whether a --backend value names Milvus (anything else is refused by MilvusAddress)."""
    return bool(backend) and backend.strip().lower().startswith(SCHEME)


def connect(address: MilvusAddress) -> Any:
    """A MilvusClient for the address; BackendUnavailableError if the server does not answer."""
    try:
        import pymilvus  # noqa: F401 - asked here for the error that names the extra
    except ImportError:
        raise IndexerError("the Milvus backend needs the cluster extra: pip install -e "
                           "\".[cluster]\"") from None
    # pymilvus logs every failed call with its traceback (an alias not made yet, say); the
    # errors it raises say the same, and ours name what to do. Set once it is imported.
    for name in ("pymilvus", "pymilvus.decorators"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    # A channel of its own: pymilvus shares one between a process's clients of an address, and
    # once milvus-lite had dropped it (GOAWAY, too_many_pings), a new client failed to recover it.
    tries = 1
    while True:
        try:
            return client_at(address.uri, CONNECT_SECONDS, dedicated=True)
        except Exception as exc:  # noqa: BLE001 - pymilvus raises several kinds
            # A server busy past the handshake's time (writing a build) is asked again; one
            # that refuses the connection is not.
            if tries < CONNECT_TRIES and _timed_out(exc):
                tries += 1
                continue
            raise BackendUnavailableError(f"cannot reach Milvus at {address.uri} ({reason(exc)}): "
                                          "start it, or check --backend") from None


def client_at(uri: str, timeout: float = 120, dedicated: bool = False) -> Any:
    """A MilvusClient at uri (as a cluster's tasks and actors open it: the cluster extra is
    there), pinging no more often than a gRPC server allows by default (5 minutes): pymilvus
    pings every 10 s, and milvus-lite drops such a channel (GOAWAY, too_many_pings)."""
    from pymilvus import MilvusClient

    return MilvusClient(uri=uri, timeout=timeout, dedicated=dedicated,
                        grpc_options={"grpc.keepalive_time_ms": 330_000})


def _timed_out(exc: BaseException) -> bool:
    cause = exc.__cause__
    code = getattr(cause, "code", None)
    return callable(code) and getattr(code(), "name", "") == "DEADLINE_EXCEEDED"


def reason(exc: Exception) -> str:
    return " ".join(str(getattr(exc, "message", None) or exc).split())[:300]


@lru_cache(maxsize=500_000)
def term_number(term: str) -> int:
    """A term's number: its BLAKE2b digest below 36^TOKEN_CHARS (stable across processes)."""
    return int.from_bytes(blake2b(term.encode(), digest_size=8).digest(), "little") \
        % 36**TOKEN_CHARS


@lru_cache(maxsize=500_000)
def token(term: str) -> str:
    """A term as Milvus' analyzer reads it: its number in base 36, TOKEN_CHARS long."""
    return np.base_repr(term_number(term), 36).lower().rjust(TOKEN_CHARS, "0")


def tokens(terms: Iterable[str], limit: int = MAX_TERMS) -> str:
    """The text a BM25 field is computed from: the terms' tokens, the first `limit` of them."""
    return " ".join(token(t) for t in islice(terms, limit))


def query_text(terms: Iterable[str]) -> str:
    """A BM25 search's text: each term once, as the local index weighs a question."""
    return " ".join(token(t) for t in dict.fromkeys(terms))


def day_key(date: str) -> int:
    """The article's day (proleptic ordinal) as stored; -1 when undated (dates.day_number)."""
    day = day_number(date)
    return -1 if day != day else int(day)


def date_key(date: str) -> int:
    """A date as filters compare it, YYYYMMDD (00 for a month or day not given); -1 when it
    passes no date filter. Orders as the local index's comparison of the date as text."""
    if not passes_date_filters(date):
        return -1
    parts = [int(p) if p.isdigit() else 0 for p in (date[5:7], date[8:10])]
    return int(date[:4]) * 10_000 + parts[0] * 100 + parts[1]


def clip(text: str) -> str:
    return text[:MAX_STRING]


def parts(text: str) -> list[str]:
    """A text in parts of MAX_STRING characters (one, empty, for an empty text), to be joined
    again in their order."""
    return [text[at:at + MAX_STRING] for at in range(0, max(len(text), 1), MAX_STRING)]


def literal(value: str | list[str]) -> str:
    """A string or list of strings as a filter expression writes it: Milvus reads JSON's escapes
    except \\uXXXX (an id holds no control character: articles.clean_id)."""
    return json.dumps(value, ensure_ascii=False)


def filter_expression(filters: Filters) -> str:
    """The Milvus expression for filters, on fields both collections have ("" for none)."""
    parts = []
    if filters.since or filters.until:  # -1: a date kept as written passes no date filter
        parts.append(f"date_key >= {max(date_key(filters.since), 0) if filters.since else 0}")
    if filters.until:  # the whole last period is in: 2016 is 2016-99-99
        year, month, day = (filters.until.split("-") + ["99", "99"])[:3]
        parts.append(f"date_key <= {int(year) * 10_000 + int(month) * 100 + int(day)}")
    if filters.sources:
        parts.append(f"source_key in {literal([s.lower() for s in filters.sources])}")
    if filters.languages:
        parts.append(f"language in {literal(list(filters.languages))}")
    return " and ".join(parts)


def guarded(what: str):
    """Decorator: a Milvus call that fails is tried once more after loading the build's
    collections again (a restarted server holds them released); a second failure becomes a
    BackendUnavailableError naming `what`."""
    def wrap(method):
        def guarded(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except IndexerError:
                raise
            except Exception:  # noqa: BLE001 - grpc and pymilvus errors alike
                pass
            try:
                self.load()
                return method(self, *args, **kwargs)
            except IndexerError:
                raise
            except Exception as exc:  # noqa: BLE001
                raise BackendUnavailableError(
                    f"Milvus at {self.address.uri} failed to {what} ({reason(exc)})") from None
        guarded.__name__, guarded.__doc__ = method.__name__, method.__doc__
        return guarded
    return wrap
