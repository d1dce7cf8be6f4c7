"""Syndicated duplicates: articles that tell the same story, found by MinHash over their words."""

from __future__ import annotations

import hashlib
import re
from typing import Sequence

from indexer.progress import progress_bar

from indexer.articles import Article
from indexer.dates import day_of

SHINGLE_WORDS = 5
THRESHOLD = 0.5  # Jaccard of word 5-grams from which two bodies are one story: an edited
# wire copy scores 0.6-1.0; different stories, even on the same topic, score near 0 (checked
# on the BBC and NewsArticles corpora: the weakest pairs grouped there share their headline)
MAX_DAYS_APART = 3  # dated copies further apart than this are follow-ups, not the same story
NUM_PERM = 64
_TOKEN = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _shingles(words: list[str]) -> set[bytes]:
    if len(words) <= SHINGLE_WORDS:
        return {" ".join(words).encode()}
    return {" ".join(words[i:i + SHINGLE_WORDS]).encode()
            for i in range(len(words) - SHINGLE_WORDS + 1)}


def _day(article: Article) -> int | None:
    day = day_of(article.date)
    return None if day is None else day.toordinal()


def story_ids(articles: Sequence[Article], progress: bool = False) -> list[str]:
    """For each article, the id of the first article of its story: its own id if it has no copy.

    Exact copies (the same words, whatever the spacing, case and punctuation) and near copies
    (Jaccard >= THRESHOLD on word 5-grams, estimated by MinHash LSH) are one story when they
    are dated at most MAX_DAYS_APART days apart or either is undated. Headline-only articles
    have no body to compare and stay alone.
    """
    from datasketch import MinHash, MinHashLSH  # here: 0.2 s to import, and a server never needs it

    parent = list(range(len(articles)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)  # the earliest-read article names the story

    days = [_day(a) for a in articles]

    def close(i: int, j: int) -> bool:
        return days[i] is None or days[j] is None or abs(days[i] - days[j]) <= MAX_DAYS_APART

    exact: dict[bytes, list[int]] = {}
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    signatures: dict[int, "MinHash"] = {}
    for i, article in enumerate(progress_bar(articles, desc="Finding duplicates", unit=" articles",
                                     disable=not progress, leave=False)):
        words = _words(article.text)
        if not words:
            continue
        key = hashlib.sha1(" ".join(words).encode()).digest()
        twins = exact.setdefault(key, [])
        same = next((j for j in twins if close(i, j)), None)
        twins.append(i)
        if same is not None:
            union(i, same)
            continue
        signature = MinHash(num_perm=NUM_PERM)
        signature.update_batch(list(_shingles(words)))
        for name in lsh.query(signature):
            j = int(name)
            if close(i, j) and signature.jaccard(signatures[j]) >= THRESHOLD:
                union(i, j)
        lsh.insert(str(i), signature)
        signatures[i] = signature
    return [articles[find(i)].id for i in range(len(articles))]
