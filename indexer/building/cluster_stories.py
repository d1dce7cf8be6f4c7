"""What a build on a Ray cluster knows of the whole archive before it embeds, found on the
cluster: each article's key, the articles whose id came before (skipped, as a local build skips
them), the syndicated copies (MinHash signatures in map_batches, LSH bands as a group-by: the
same rule as analysis/stories.py), and the counts the manifest and the searcher read. The machine
running `index` receives reports, counts and pairs of keys, never an article.
"""

from __future__ import annotations

import pickle
from collections import Counter
from dataclasses import dataclass, field
from hashlib import blake2b
from typing import Any, Iterator

import numpy as np

from indexer.analysis.stories import MAX_DAYS_APART, NUM_PERM, THRESHOLD, _shingles, _words
from indexer.articles import Article
from indexer.building.ray_cluster import _read
from indexer.dates import day_of

ROW_BITS = 26  # an article's key: (its file or part's number << ROW_BITS) | its place there
MAX_GROUP = 200  # articles of one LSH bucket each article is compared with (those before it)


def keyed(row: dict, options: Any, cwd: bytes) -> Iterator[dict]:
    """_read's rows with each article's key (archive order: file or part, then place); -1 for
    what is reported (skips, counts)."""
    at = 0
    for out in _read(row, options, cwd):
        if isinstance(pickle.loads(out["item"]), Article):
            yield {"key": (int(row["no"]) << ROW_BITS) | at, "item": out["item"]}
            at += 1
        else:
            yield {"key": -1, "item": out["item"]}


def _profiles(batch: dict) -> dict:
    """Each article's key, id, content hash, origin, day, outlet, language and MinHash
    signature (empty for one without a body); a report row keeps its item."""
    from datasketch import MinHash

    out: dict[str, list] = {k: [] for k in ("key", "id", "hash", "origin", "day", "source",
                                            "language", "sig", "item")}
    for key, item in zip(batch["key"], batch["item"]):
        article = pickle.loads(item) if key >= 0 else None
        words = _words(article.text) if article else []
        signature = b""
        if words:
            minhash = MinHash(num_perm=NUM_PERM)
            minhash.update_batch(list(_shingles(words)))
            signature = minhash.hashvalues.astype(np.uint64).tobytes()
        day = day_of(article.date) if article else None
        for name, value in (("key", int(key)), ("id", article.id if article else ""),
                            ("hash", article.content_hash if article else ""),
                            ("origin", article.origin if article else ""),
                            ("day", day.toordinal() if day else -1),
                            ("source", article.source if article else ""),
                            ("language", article.language if article else ""),
                            ("sig", signature), ("item", b"" if article else item)):
            out[name].append(value)
    return {k: np.array(v, dtype=object if k not in ("key", "day") else np.int64)
            for k, v in out.items()}


def _later_ids(group: dict) -> dict:
    """Of the articles with one id, all but the first read: (key, id, origin, the first's
    origin)."""
    order = np.argsort(group["key"])
    first = group["origin"][order[0]]
    later = order[1:]
    return {"key": group["key"][later], "id": group["id"][later],
            "origin": group["origin"][later],
            "first": np.array([first] * len(later), dtype=object)}


def _bands(row: dict, dropped: set[int]) -> list[dict]:
    """An article's LSH bands (as MinHashLSH at THRESHOLD with NUM_PERM cuts its signature);
    none for one without a body, or dropped."""
    from datasketch import MinHashLSH

    if not row["sig"] or row["key"] in dropped:
        return []
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    values = np.frombuffer(row["sig"], dtype=np.uint64)
    return [{"band": int.from_bytes(blake2b(bytes([b]) + values[b * lsh.r:(b + 1) * lsh.r]
                                            .tobytes(), digest_size=8).digest(), "little") >> 1,
             "key": row["key"], "day": row["day"], "sig": row["sig"]} for b in range(lsh.b)]


def _pairs(group: dict) -> dict:
    """The pairs of one bucket's articles that are one story: dated at most MAX_DAYS_APART days
    apart (or either undated) and Jaccard, estimated from their signatures, >= THRESHOLD."""
    order = np.argsort(group["key"])
    keys, days = group["key"][order], group["day"][order]
    sigs = [np.frombuffer(group["sig"][i], dtype=np.uint64) for i in order]
    first, second = [], []
    for j in range(1, len(keys)):
        for i in range(max(0, j - MAX_GROUP), j):
            close = days[i] < 0 or days[j] < 0 or abs(int(days[i]) - int(days[j])) <= \
                MAX_DAYS_APART
            if close and float(np.mean(sigs[i] == sigs[j])) >= THRESHOLD:
                first.append(keys[i])
                second.append(keys[j])
    return {"a": np.array(first, dtype=np.int64), "b": np.array(second, dtype=np.int64)}


def _tally(batch: dict, dropped: set[int]) -> dict:
    """One batch's counts (but of the dropped keys): articles, outlets, languages, first and
    last day."""
    batch = {k: v[~np.isin(batch["key"], list(dropped))] for k, v in batch.items()} \
        if dropped else batch
    days = batch["day"][batch["day"] >= 0]
    held = (len(batch["key"]), Counter(batch["source"].tolist()),
            Counter(batch["language"].tolist()),
            int(days.min()) if len(days) else None, int(days.max()) if len(days) else None)
    return {"tally": np.array([pickle.dumps(held)], dtype=object)}


@dataclass
class Archive:
    """What pass one found: the keys skipped as later copies of an id (with their reasons),
    each story's first key and size by key (articles with copies only), and the counts."""

    # key, id, origin, the first's origin
    skipped: list[tuple[int, str, str, str]] = field(default_factory=list)
    stories: dict[int, tuple[int, int]] = field(default_factory=dict)
    articles: int = 0
    sources: Counter = field(default_factory=Counter)
    languages: Counter = field(default_factory=Counter)
    oldest: float = float("nan")
    newest: float = float("nan")
    profiles: Any = None  # the articles read (key, id, hash...): a dataset on the cluster

    def outlets(self) -> list[tuple[str, int]]:
        """The outlets with their article counts, largest first, as the local index lists them
        (one outlet whatever the case it is written in: its commonest spelling)."""
        by_name: dict[str, Counter] = {}
        for source, n in self.sources.items():
            if source:
                by_name.setdefault(source.lower(), Counter())[source] += n
        return sorted(((names.most_common(1)[0][0], sum(names.values()))
                       for names in by_name.values()), key=lambda p: (-p[1], p[0]))

    def spoken(self) -> list[tuple[str, int]]:
        """The languages with their article counts, largest first."""
        return sorted(self.languages.items(), key=lambda p: (-p[1], p[0]))


def survey(read: Any) -> tuple[Archive, Any]:
    """Pass one over the archive (read: a Ray dataset of keyed rows): what the build needs to
    know of all of it, and the dataset of what reading reported, in order, for the caller."""
    profiles = read.map_batches(_profiles, batch_format="numpy").materialize()
    found = Archive()
    articles = profiles.filter(expr="key >= 0")
    later = articles.groupby("id").map_groups(_later_ids, batch_format="numpy").take_all()
    found.skipped = sorted((int(r["key"]), r["id"], r["origin"], r["first"]) for r in later)
    dropped = {key for key, *_ in found.skipped}
    for row in articles.map_batches(_tally, batch_format="numpy",
                                    fn_kwargs={"dropped": dropped}).take_all():
        n, sources, languages, first, last = pickle.loads(row["tally"])
        found.articles += n
        found.sources.update(sources)
        found.languages.update(languages)
        if first is not None:
            found.oldest = min(first, found.oldest) if found.oldest == found.oldest else first
            found.newest = max(last, found.newest) if found.newest == found.newest else last
    pairs = articles.flat_map(_bands, fn_kwargs={"dropped": dropped}).groupby("band") \
        .map_groups(_pairs, batch_format="numpy")
    found.stories = _stories((int(r["a"]), int(r["b"])) for r in pairs.take_all())
    found.profiles = articles.filter(lambda row: row["key"] not in dropped) if dropped \
        else articles
    return found, profiles.filter(expr="key < 0")


def _stories(pairs: Any) -> dict[int, tuple[int, int]]:
    """Each article of a story of several: (its story's first key, the story's size)."""
    parent: dict[int, int] = {}

    def find(k: int) -> int:
        parent.setdefault(k, k)
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)  # the earliest-read article names the story
    heads = {k: find(k) for k in parent}
    sizes = Counter(heads.values())
    return {k: (head, sizes[head]) for k, head in heads.items()}
