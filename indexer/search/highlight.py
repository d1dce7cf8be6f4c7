"""Why a passage matched: the query's words found in it, and the sentence holding most of them."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from indexer.chunking import sentence_spans
from indexer.terms import NON_ASCII_WORD, WORD, query_stems, stem_candidates, word_stem

__all__ = ["Highlights", "closest_sentences", "highlight", "query_stems"]

@dataclass(frozen=True)
class Highlights:
    """Character offsets into a passage's text: matched words, and the best sentence (or None)."""

    terms: tuple[tuple[int, int], ...]
    sentence: tuple[int, int] | None
    basis: str = "words"  # how the sentence was chosen: "words" it holds, or its "meaning"
    coverage: float = 0.0  # the share of the query's words (by weight) the sentence holds


def highlight(text: str, stems: frozenset[str],
              weights: Mapping[str, float] | None = None) -> Highlights:
    """Mark the words of text whose stems are query stems, and the sentence that holds most of
    them: by their weights where given (the rarer a word, the more it says), else by count."""
    return marks(text, matched_words(text, stems) if stems else [], stems, weights)


def weigher(stems: frozenset[str], weights: Mapping[str, float] | None
            ) -> tuple[Callable[[set[str]], float], float]:
    """How much a set of the query's stems weighs (by weights, else by count), and what all of
    them weigh (1 if nothing)."""
    # Summed in one order: a set's order changes with the process's hash seed, and a float
    # sum in another order can break a tie between two sentences the other way.
    weigh = (lambda held: sum(weights.get(s, 0.0) for s in sorted(held))) if weights else len
    return weigh, (weigh(stems) or 1.0)


def marks(text: str, matched: Sequence[tuple[int, int, str]], stems: frozenset[str],
          weights: Mapping[str, float] | None = None,
          spans: Sequence[tuple[int, int]] | None = None) -> Highlights:
    """highlight's result from the words matched_words found in text; spans: its sentences,
    where they are known (chunking.Layout), else they are found."""
    if not matched:
        return Highlights((), None)
    spans = sentence_spans(text) if spans is None else spans
    starts = [start for start, _ in spans]
    found: dict[int, set[str]] = {}  # sentence number -> the query stems it holds
    for start, _, stem in matched:
        at = bisect_right(starts, start) - 1
        if at >= 0 and start < spans[at][1]:
            found.setdefault(at, set()).add(stem)
    weigh, total = weigher(stems, weights)
    # The first of the sentences holding the most of the query's words.
    best = max(found, key=lambda at: (weigh(found[at]), -at), default=None)
    return Highlights(tuple((start, end) for start, end, _ in matched),
                      None if best is None else spans[best],
                      coverage=0.0 if best is None else weigh(found[best]) / total)


def matched_words(text: str, stems: frozenset[str]) -> list[tuple[int, int, str]]:
    """(start, end, stem) of each word of text (WORD) whose stem is one of stems, in order.

    A word's stem differs from the word's start (folded) in at most its last character: the
    stemmer removes and replaces endings ("hoping" hope, "ability" abil, "early" earli), except
    for "ying" after one consonant ("dying" die). So only the words that begin with a stem less
    its last character, or with "dy" for "die", can match, and only those are stemmed: found by
    str.find, 3x faster than stemming every word. True of all 115,420 distinct words of the
    union and the NewsArticles (tests check the same words as stemming every one). A text
    with letters outside ASCII, which folding may change in length, stems every word.
    """
    if not text.isascii() and NON_ASCII_WORD.search(text):
        return every_word_matched(text, stems)
    folded = text.lower().replace("’", "'")  # fold(), which keeps offsets for such a text
    return [(start, end, stem) for start, end in sorted(stem_candidates(folded, stems))
            if (stem := word_stem(text[start:end])) in stems]


def every_word_matched(text: str, stems: frozenset[str]) -> list[tuple[int, int, str]]:
    """What matched_words gives, found by stemming every word of text: the way for texts whose
    folding may change their length, and the reference the shortcut is measured against."""
    return [(m.start(), m.end(), stem) for m in WORD.finditer(text)
            if (stem := word_stem(m.group())) in stems]


def closest_sentences(texts: Sequence[str], query: np.ndarray,
                      encode: Callable[[list[str]], np.ndarray]) -> list[tuple[int, int] | None]:
    """For each text, the span of its sentence closest in meaning to the query vector.

    All sentences are embedded in one batch by encode (unit vectors, like the query's).
    """
    spans = [sentence_spans(text) for text in texts]
    sentences = [text[s:e] for text, found in zip(texts, spans) for s, e in found]
    if not sentences:
        return [None] * len(texts)
    similarity = encode(sentences) @ query.reshape(-1)
    best: list[tuple[int, int] | None] = []
    at = 0
    for found in spans:
        best.append(found[int(np.argmax(similarity[at:at + len(found)]))] if found else None)
        at += len(found)
    return best
