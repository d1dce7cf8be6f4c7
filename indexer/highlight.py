"""Why a passage matched: the query's words found in it, and the sentence that holds most of them."""

from __future__ import annotations

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
    matches = list(WORD.finditer(text))
    words = [word_stem(m.group()) for m in matches]
    terms = tuple((m.start(), m.end()) for m, w in zip(matches, words) if w in stems)
    if not terms:
        return Highlights((), None)
    best, best_score = None, 0
    for start, end in sentence_spans(text):
        found = {w for m, w in zip(matches, words) if w in stems and start <= m.start() < end}
        if len(found) > best_score:
            best, best_score = (start, end), len(found)
    return Highlights(terms, best)


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
