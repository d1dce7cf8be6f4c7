"""The words of a query that carry meaning: tokenising, stopwords and English stemming."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from itertools import pairwise
from typing import Iterator

import snowballstemmer

WORD = re.compile(r"\w+(?:[’'.,]\w+)*")
NON_ASCII_WORD = re.compile(r"[^\W\x00-\x7f]")  # a letter or digit outside ASCII
_JOINERS = "'.,"  # what joins two runs of letters into one word (WORD), once folded
COMPOUND = re.compile(r"\w+(?:-\w+)+")
STOPWORDS = frozenset(
    """
a about above after again against all am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have
having he her here hers herself him himself his how i if in into is it its itself just me more most
my myself no nor not now of off on once only or other our ours ourselves out over own same she
should so some such than that the their theirs them themselves then there these they this those
through to too under until up very was we were what when where which while who whom why will
with would you your yours yourself yourselves many much say said says also get got tell told
""".split()
)


@lru_cache(maxsize=1)
def stemmer() -> snowballstemmer.stemmer:
    """The English Snowball stemmer (shared: building one is not free)."""
    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The stem of one lower-case word, cached: the pure-Python stemmer is slow, words repeat."""
    return stemmer().stemWord(word)


# The stems the stopwords have: a word of such a stem ("saying", "says") may be a stopword.
STOPWORD_STEMS = frozenset(stem(w) for w in STOPWORDS)


def fold(text: str) -> str:
    """text lower-cased, curly apostrophes made straight and accents dropped ("Café" -> "cafe")."""
    text = text.lower().replace("’", "'")
    if text.isascii():
        return text
    return _NON_ASCII.sub(_folded_run, text)


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def _folded_run(match: re.Match) -> str:
    return _unaccented(match.group())


@lru_cache(maxsize=20_000)
def _unaccented(run: str) -> str:
    """A run of non-ASCII characters decomposed (NFKD), its combining marks dropped: the same as
    the whole text's, as decomposing goes character by character and reordering moves marks
    only among marks; 5x faster on news text than a pass over every character."""
    return "".join(c for c in unicodedata.normalize("NFKD", run) if not unicodedata.combining(c))


@lru_cache(maxsize=200_000)
def word_stem(word: str) -> str:
    """The stem of one word as written (folded first), cached: highlighting meets the same
    words in every passage."""
    return stem(fold(word))


def _stems(folded: str) -> list[str]:
    """The stems of a folded text's meaningful words, in order, repeats kept."""
    return [stem(w) for w in WORD.findall(folded) if w not in STOPWORDS]


def analyse(text: str) -> list[str]:
    """The stems of text's meaningful words, in order, repeats kept, then its hyphenated
    compounds whole: what BM25 indexes and looks up. "ZQ-8812" gives "zq", "8812" and "zq-8812",
    so a code matches its parts and, far more rarely and so more strongly, itself; "15,000"
    stays whole."""
    text = fold(text)
    words = _stems(text)
    if "-" in text:
        words += COMPOUND.findall(text)
    return words


def phrases(text: str) -> list[str]:
    """The pairs of meaningful words that follow each other in text (stopwords between them
    skipped), as "stem_stem", in order, repeats kept: what the phrase index holds. "Lee
    Jae-yong formally arrested" gives "lee_jae", "jae_yong", "yong_formal", "formal_arrest"."""
    return [f"{a}_{b}" for a, b in pairwise(_stems(fold(text)))]


def query_stems(query: str) -> frozenset[str]:
    """The stems of the query's meaningful words."""
    return frozenset(analyse(query))


@lru_cache(maxsize=256)
def stem_prefixes(stems: frozenset[str]) -> tuple[str, ...]:
    """What a word must begin with to have one of stems as its stem, none the start of another:
    a word's stem differs from its start (folded) in at most its last character, or is "die"
    for "dy..." (search/highlight.py, matched_words)."""
    starts = set()
    for stem in stems:
        starts.add(stem[:-1] or stem)
        if len(stem) > 2 and stem.endswith("ie"):
            starts.add(stem[:-2] + "y")
    ordered = sorted(starts)
    return tuple(p for i, p in enumerate(ordered)
                 if not any(p.startswith(shorter) for shorter in ordered[:i]))


def stem_candidates(folded: str, stems: frozenset[str]) -> Iterator[tuple[int, int]]:
    """(start, end) of each word (WORD) of a folded text that begins with one of stems'
    prefixes (stem_prefixes), found by str.find: the only words that may have one of stems as
    their stem, each once (no prefix begins another), by prefix, not in the text's order."""
    for prefix in stem_prefixes(stems):
        at = folded.find(prefix)
        while at >= 0:
            if starts_word(folded, at) and (word := WORD.match(folded, at)):
                yield at, word.end()
            at = folded.find(prefix, at + 1)


def starts_word(folded: str, at: int) -> bool:
    """Whether a word (WORD) of folded begins at `at`, where a letter or digit is: not inside
    one, like the "s" of "a's" or "0" of "1,000"."""
    if at == 0:
        return True
    before = folded[at - 1]
    if in_word(before):
        return False
    return not (before in _JOINERS and at > 1 and in_word(folded[at - 2]))


def in_word(char: str) -> bool:
    """Whether char is one the regular expressions' \\w matches (a letter, digit or "_")."""
    return char.isalnum() or char == "_"
