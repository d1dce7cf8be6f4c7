"""Splitting an article into overlapping passages on sentence boundaries, with character offsets."""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from indexer.articles import Article

DEFAULT_MAX_WORDS = 100  # ~130-180 word pieces with the headline: inside MiniLM's 256-token window
DEFAULT_OVERLAP = 1  # sentences repeated at the start of the next passage
LEAD_WORDS = 60  # a result shows its article's opening sentences, at most this many words
LEAD_READ = 600  # characters of the article's start they are found in (60 words take ~400)

_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st mt ft gen col lt maj sgt capt cmdr adm gov sen rep rev hon pres jr sr "
    "inc ltd co corp bros plc llc dept univ assn est approx vs etc no nos vol fig al "
    "jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thur thurs fri sat sun "
    "a.m p.m u.s u.k u.n e.u i.e e.g".split()
)
# A sentence ends at ., ! or ? (and closing quotes or brackets), before space and a capital,
# digit, quote or bracket; a blank line always ends one. One leading character class lets the
# engine skip to candidates (3x faster); a run of marks is tried from its first only (linear).
_CANDIDATE = re.compile(r"""[.!?…\n](?:(?<=[.!?…])(?<![.!?…]{2})[.!?…]*["'”’)\]]*"""
                        r"""(?=\s+["'“‘(\[]?[A-Z0-9])"""
                        r"""|(?<=\n)\s*\n)""")
_LAST_WORD = re.compile(r"[\w.]+$")  # the word before a full stop, its own dots included
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Passage:
    """A span of an article's text that is embedded and returned as a search hit."""

    article_id: str
    position: int  # 0 for the article's first passage
    start: int  # character offsets into Article.text; end is exclusive
    end: int
    text: str


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in text, whitespace excluded."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _CANDIDATE.finditer(text):
        if _is_abbreviation(text, match.start()):
            continue
        end = match.end()
        _add_span(text, start, end, spans)
        start = end
    _add_span(text, start, len(text), spans)
    return spans


def opening(text: str, complete: bool, words: int = LEAD_WORDS) -> tuple[int, int]:
    """(end, words) of the article's opening sentences that fit in `words` words, (0, 0) when
    its first sentence is longer: the lead a result shows. text is the article's text from its
    start, complete when it is the whole article (else its last sentence may be cut, and is not
    used)."""
    spans = sentence_spans(text)
    end = total = 0
    for start, stop in spans[:len(spans) - (0 if complete else 1)]:
        n = len(_WORD.findall(text, start, stop))
        if total + n > words:
            break
        end, total = stop, total + n
    return end, total


@dataclass(frozen=True)
class Layout:
    """An article's sentences (start, end offsets into its text) and its lead (the end and
    word count of its opening, see opening): found once when it is indexed, so that a search
    does not split the articles it shows again."""

    sentences: tuple[tuple[int, int], ...]
    lead_end: int
    lead_words: int

    @classmethod
    def of(cls, text: str) -> "Layout":
        lead = opening(text[:LEAD_READ], len(text) < LEAD_READ)
        return cls(tuple(sentence_spans(text)), *lead)

    def packed(self) -> bytes:
        """The sentences as stored: unsigned 32-bit little-endian offsets, start and end."""
        return np.asarray(self.sentences, dtype="<u4").reshape(-1).tobytes()

    @classmethod
    def unpacked(cls, blob: bytes, lead_end: int, lead_words: int) -> "Layout":
        flat = np.frombuffer(blob, dtype="<u4").tolist()
        return cls(tuple(zip(flat[::2], flat[1::2])), lead_end, lead_words)

    @cached_property
    def _ends(self) -> list[int]:
        return [b for _, b in self.sentences]

    def within(self, start: int, end: int) -> list[tuple[int, int]]:
        """The sentences of the text's characters start to end, offsets from start: those
        inside it, and a sentence it cuts cut to it (a long sentence's piece, see _split_long)."""
        first = bisect_right(self._ends, start)
        found = []
        for a, b in self.sentences[first:]:
            if a >= end:
                break
            found.append((max(a, start) - start, min(b, end) - start))
        return found


def _is_abbreviation(text: str, dot: int) -> bool:
    """Whether text[dot] is the full stop of an abbreviation ("Mr.", "U.S.") or an initial."""
    if text[dot] != ".":
        return False
    word = _LAST_WORD.search(text, max(0, dot - 12), dot)
    if not word:
        return False
    token = word.group().lower()
    return token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha())


def _add_span(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        lead = start + len(piece) - len(piece.lstrip())
        spans.append((lead, lead + len(stripped)))


def _split_long(text: str, span: tuple[int, int], max_words: int) -> list[tuple[int, int]]:
    """Cut a sentence longer than max_words into pieces of max_words words."""
    words = [
        (m.start() + span[0], m.end() + span[0]) for m in _WORD.finditer(text[span[0] : span[1]])
    ]
    if len(words) <= max_words:
        return [span]
    return [(words[i][0], words[min(i + max_words, len(words)) - 1][1])
            for i in range(0, len(words), max_words)]


def chunk_article(article: Article, max_words: int = DEFAULT_MAX_WORDS,
                  overlap: int = DEFAULT_OVERLAP) -> list[Passage]:
    """Passages of at most max_words words made of whole sentences, overlapping by `overlap`."""
    if max_words < 1 or overlap < 0:
        raise ValueError("max_words must be >= 1 and overlap >= 0")
    text = article.text
    if not text:  # a headline with no body: the headline is its one passage
        return [Passage(article.id, 0, 0, 0, article.title)]
    sentences = [
        piece for span in sentence_spans(text) for piece in _split_long(text, span, max_words)
    ]
    counts = [len(_WORD.findall(text[s:e])) for s, e in sentences]
    passages: list[Passage] = []
    first = 0
    while first < len(sentences):
        last, words = first, counts[first]
        while last + 1 < len(sentences) and words + counts[last + 1] <= max_words:
            last += 1
            words += counts[last]
        start, end = sentences[first][0], sentences[last][1]
        passages.append(Passage(article.id, len(passages), start, end, text[start:end]))
        if last + 1 >= len(sentences):
            break
        first = max(first + 1, last + 1 - overlap)
    return passages


def embedding_text(title: str, passage_text: str) -> str:
    """What the model sees for a passage: the headline gives the passage its context."""
    return f"{title}.\n{passage_text}" if title and passage_text != title else passage_text
