"""Milvus as a backend: its address, the connection, term keys, filter expressions, and
errors said as a 503."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from hashlib import blake2b
from typing import Any, Iterable

import numpy as np

from indexer.dates import day_number
from indexer.errors import IndexerError
from indexer.filters import Filters

SCHEME = "milvus://"
MAX_STRING = 16_000  # characters a string field holds (Milvus counts at most 65,535 bytes)
BATCH = 500  # rows an insert sends
KEEP_BUILDS = 2  # the build served and the one before it, as in a local index folder
PROPERTY = "news_search"  # the collection property holding the manifest and what it serves
SEEN = 20_000  # passages whose article, story and day are kept from the searches that found them
TERMS = 2**32 - 2  # Milvus sparse dimensions (below 2^32 - 1): term keys are hashed below TERMS
# A document with no term at all (a headline of stop words) still needs one nonzero weight: a
# dimension no term has, which no question holds.
EMPTY = {TERMS: 1e-30}
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
        from pymilvus import MilvusClient
    except ImportError:
        raise IndexerError("the Milvus backend needs the cluster extra: pip install -e "
                           "\".[cluster]\"") from None
    # pymilvus logs every failed call with its traceback (an alias not made yet, say); the
    # errors it raises say the same, and ours name what to do. Set once it is imported.
    for name in ("pymilvus", "pymilvus.decorators"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        return MilvusClient(uri=address.uri, timeout=10)
    except Exception as exc:  # noqa: BLE001 - pymilvus raises several kinds
        raise BackendUnavailableError(f"cannot reach Milvus at {address.uri} ({reason(exc)}): "
                                      "start it, or check --backend") from None


def reason(exc: Exception) -> str:
    return " ".join(str(getattr(exc, "message", None) or exc).split())[:300]


def term_key(term: str) -> int:
    """A word's sparse dimension: 32 bits of its BLAKE2b digest (stable across processes)."""
    return int.from_bytes(blake2b(term.encode(), digest_size=4).digest(), "little") % TERMS


def pair_key(pair: str) -> int:
    """A phrase's sparse dimension: its 64-bit key in the local phrase index, folded."""
    from indexer.storage.keywords import term_keys
    return int(term_keys([pair])[0] % np.uint64(TERMS))


def day_key(date: str) -> int:
    day = day_number(date)
    return -1 if day != day else int(day)


def clip(text: str) -> str:
    return text[:MAX_STRING]


def _quoted(values: Iterable[str]) -> str:
    return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"


def filter_expression(filters: Filters) -> str:
    """The Milvus expression for filters, on fields both collections have ("" for none)."""
    parts = []
    if filters.since or filters.until:
        parts.append("dated == true")  # a date kept as written never passes a date filter
    if filters.since:
        parts.append(f"date >= {json.dumps(filters.since)}")
    if filters.until:
        parts.append(f"date <= {json.dumps(filters.until + '~')}")  # the whole last day is in
    if filters.sources:
        parts.append(f"source_key in {_quoted(s.lower() for s in filters.sources)}")
    if filters.languages:
        parts.append(f"language in {_quoted(filters.languages)}")
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


def served_collection(client: Any, address: MilvusAddress) -> str | None:
    """The passages collection the address's alias names, or None if there is none."""
    try:
        return client.describe_alias(address.name)["collection_name"]
    except Exception as exc:  # noqa: BLE001
        if "not found" in str(exc).lower() or "not exist" in str(exc).lower():
            return None
        raise BackendUnavailableError(f"Milvus at {address.uri} failed to name the collection "
                                      f"served ({reason(exc)})") from None


