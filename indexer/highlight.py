"""Why a passage matched: the query's words found in it, and the sentence that holds most of them."""

from __future__ import annotations

from dataclasses import dataclass

from .chunking import sentence_spans
from .terms import WORD, query_stems, stem

__all__ = ["Highlights", "highlight", "query_stems"]


@dataclass(frozen=True)
class Highlights:
    """Character offsets into a passage's text: matched words, and the best sentence (or None)."""

    terms: tuple[tuple[int, int], ...]
    sentence: tuple[int, int] | None


def highlight(text: str, stems: frozenset[str]) -> Highlights:
    """Mark the words of text whose stems are query stems, and the sentence with the most of them."""
    if not stems:
        return Highlights((), None)
    matches = list(WORD.finditer(text))
    words = [stem(m.group().lower().replace("’", "'")) for m in matches]
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
