"""Why a passage matched: the query's words found in it, and the sentence that holds most of them."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .chunking import sentence_spans
from .terms import WORD, query_stems, word_stem

__all__ = ["Highlights", "closest_sentences", "highlight", "query_stems"]


@dataclass(frozen=True)
class Highlights:
    """Character offsets into a passage's text: matched words, and the best sentence (or None)."""

    terms: tuple[tuple[int, int], ...]
    sentence: tuple[int, int] | None
    basis: str = "words"  # how the sentence was chosen: "words" it holds, or its "meaning"


def highlight(text: str, stems: frozenset[str]) -> Highlights:
    """Mark the words of text whose stems are query stems, and the sentence with the most of them."""
    if not stems:
        return Highlights((), None)
    matched = [(m.start(), m.end(), stem) for m in WORD.finditer(text)
               if (stem := word_stem(m.group())) in stems]
    if not matched:
        return Highlights((), None)
    spans = sentence_spans(text)
    starts = [start for start, _ in spans]
    found: dict[int, set[str]] = {}  # sentence number -> the query stems it holds
    for start, _, stem in matched:
        at = bisect_right(starts, start) - 1
        if at >= 0 and start < spans[at][1]:
            found.setdefault(at, set()).add(stem)
    # The first of the sentences holding the most distinct query words.
    best = max(found, key=lambda at: (len(found[at]), -at), default=None)
    return Highlights(tuple((start, end) for start, end, _ in matched),
                      None if best is None else spans[best])


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
