"""Why a passage matched: the query's words found in it, and the sentence that holds most of them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

from .chunking import sentence_spans

_WORD = re.compile(r"\w+(?:[’'.,]\w+)*")
STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have
having he her here hers herself him himself his how i if in into is it its itself just me more most
my myself no nor not now of off on once only or other our ours ourselves out over own same she should
so some such than that the their theirs them themselves then there these they this those through to
too under until up very was we were what when where which while who whom why will with would you your
yours yourself yourselves many much did say said says also get got tell told
""".split())


@dataclass(frozen=True)
class Highlights:
    """Character offsets into a passage's text: matched words, and the best sentence (or None)."""

    terms: tuple[tuple[int, int], ...]
    sentence: tuple[int, int] | None


@lru_cache(maxsize=1)
def _stemmer() -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer("english")


def query_stems(query: str) -> frozenset[str]:
    """The stems of the query's words that carry meaning (stopwords dropped)."""
    words = [w.lower() for w in _WORD.findall(query)]
    return frozenset(_stemmer().stemWords([w for w in words if w not in STOPWORDS]))


def highlight(text: str, stems: frozenset[str]) -> Highlights:
    """Mark the words of text whose stems are query stems, and the sentence with the most of them."""
    if not stems:
        return Highlights((), None)
    matches = [m for m in _WORD.finditer(text)]
    words = _stemmer().stemWords([m.group().lower().replace("’", "'") for m in matches])
    terms = tuple((m.start(), m.end()) for m, stem in zip(matches, words) if stem in stems)
    if not terms:
        return Highlights((), None)
    best, best_score = None, 0
    for start, end in sentence_spans(text):
        found = {stem for m, stem in zip(matches, words)
                 if stem in stems and start <= m.start() < end}
        if len(found) > best_score:
            best, best_score = (start, end), len(found)
    return Highlights(terms, best)
