"""Which passage of an article a result shows: the one most likely to answer the question.

A result is an article, ranked by its best passage; but the passage that ranks it (the most
similar, or the one with most of the question's words) is often not the one that answers. The
one shown is the passage whose best sentence holds the most of the question's words, each
weighted by how rare it is (highlight's coverage), with a small bonus where that sentence holds
what the question asks for (a number for "how many", a date for "when", a name for "who"), and
the earliest such passage on a tie (news puts its facts first). What is shown is that sentence
with the ones around it, SHOWN_WORDS words: the answer is often a sentence away from the words
of the question. When that sentence is not in the article's opening, the opening sentences (up
to chunking.LEAD_WORDS words) are shown before it, within the same SHOWN_WORDS: news says its
main facts first. The sentences and the opening are those found when the article was indexed
(chunking.Layout), or found here in an index built before they were stored. Measured on
NewsQA's questions (docs/history/benchmarks.md, "Answers on top").
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from operator import itemgetter
from typing import Mapping, Sequence

from indexer.chunking import Passage, sentence_spans
from indexer.search.highlight import Highlights, marks, matched_words, weigher

# What a question asks for, and what a sentence holding such an answer contains.
_KINDS = (
    ("number", re.compile(r"\bhow (many|much|old|long|far|big|often|large|tall|high)\b|\bwhat "
                          r"(number|percent(age)?|age|amount|size)\b|\bnumber of\b", re.I),
     re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|"
                r"thirty|forty|fifty|hundreds?|thousands?|millions?|billions?|dozens?)\b", re.I)),
    ("time", re.compile(r"\bwhen\b|\bwhat (year|day|date|time|month)\b", re.I),
     re.compile(r"\d|\b(january|february|march|april|may|june|july|august|september|october|"
                r"november|december|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
                r"yesterday|today|tomorrow|week|month|year|decade|morning|night|ago|since)\b",
                re.I)),
    ("name", re.compile(r"\bwho(se|m)?\b|\bwhere\b", re.I), None),
)
_CAPITALISED = re.compile(r"\b[A-Z][a-z]+")
_OPENERS = " \"'“‘(["
CUE_WEIGHT = 0.1  # beside coverage (0..1): a tie-breaker more than a score
# A passage's place in its article, weighed beside coverage as this over (1 + its position):
# news says its facts first, so of two near-equal sentences the earlier more often answers.
POSITION_WEIGHT = 0.05
SHOWN_WORDS = 150  # a result shows its best sentence and the ones around it, this many words
REACH = 1000  # characters of the article read either side of that sentence (150 words take ~900)
_start, _end = itemgetter(0), itemgetter(1)  # a sentence's (start, end) offsets, for bisection


def question_kind(query: str) -> tuple[str, re.Pattern | None] | None:
    """What the question asks for ("number", "time", "name") with the pattern of such an
    answer, or None when it says nothing of it."""
    for kind, asks, answer in _KINDS:
        if asks.search(query):
            return kind, answer
    return None


def holds_kind(sentence: str, kind: tuple[str, re.Pattern | None] | None, query: str) -> bool:
    """Whether the sentence holds an answer of the kind asked for: for a name, a capitalised
    word the question does not have."""
    if kind is None:
        return False
    name, pattern = kind
    if pattern is not None:
        return bool(pattern.search(sentence))
    asked = {w.lower() for w in _CAPITALISED.findall(query)}
    return any(m.group().lower() not in asked for m in _CAPITALISED.finditer(sentence)
               if sentence[:m.start()].strip(_OPENERS))  # not the sentence's first word


def choose(passages: Sequence[tuple[str, int]], stems: frozenset[str],
           weights: Mapping[str, float], query: str,
           sentences: Sequence[Sequence[tuple[int, int]] | None] = ()
           ) -> tuple[int, Highlights] | None:
    """Which of passages ((text, position) pairs) to show, with its highlights: the one whose
    best sentence holds the most of the question's words by weight, plus CUE_WEIGHT where that
    sentence holds what the question asks for, plus POSITION_WEIGHT / (1 + its position), the
    earliest on a tie; None if none holds any of its words. sentences: each passage's, where
    known (else found); a passage that holds too little to win is not looked at further."""
    kind = question_kind(query)
    weigh, total = weigher(stems, weights)
    bonus = CUE_WEIGHT if kind else 0.0
    best: tuple[float, int, Highlights] | None = None
    for at in sorted(range(len(passages)), key=lambda i: passages[i][1]):
        text = passages[at][0]
        matched = matched_words(text, stems)
        if not matched:
            continue
        early = POSITION_WEIGHT / (1 + passages[at][1])
        # No sentence holds more than its passage: a later one must do better to win.
        if best is not None and weigh({m[2] for m in matched}) / total + bonus + early <= best[0]:
            continue
        lights = marks(text, matched, stems, weights,
                       sentences[at] if at < len(sentences) else None)
        sentence = text[slice(*lights.sentence)] if lights.sentence else ""
        score = lights.coverage + bonus * holds_kind(sentence, kind, query) + early
        if lights.sentence and (best is None or score > best[0]):
            best = (score, at, lights)
    return None if best is None else (best[1], best[2])


def around(passage: Passage, lights: Highlights) -> tuple[int, int] | None:
    """Which characters of the passage's article to read to widen what it shows around its
    best sentence (see window), or None when there is nothing to widen: no best sentence, or
    a headline-only article whose passage is its headline."""
    if lights.sentence is None or passage.end <= passage.start:
        return None
    return max(0, passage.start + lights.sentence[0] - REACH), \
        passage.start + lights.sentence[1] + REACH


def window(passage: Passage, lights: Highlights, excerpt: str, offset: int, complete: bool,
           stems: frozenset[str], words: int = SHOWN_WORDS, floor: int = 0,
           sentences: Sequence[tuple[int, int]] | None = None) -> tuple[Passage, Highlights]:
    """What a result shows instead of its passage: the passage's best sentence and the whole
    sentences around it, at most `words` words (the one before, then the one after, in turn),
    with its highlights. excerpt is the article's text from offset (around's span), complete
    when it runs to the article's end; its first and last sentences may be cut, so they are
    used only where they are the article's own first or last. No sentence that starts before
    the article's character `floor` (the lead shown above it) is added. sentences: the
    article's (chunking.Layout), where known: then those inside the excerpt are used."""
    assert lights.sentence is not None
    first, last = passage.start + lights.sentence[0], passage.start + lights.sentence[1]
    if sentences is None:
        spans = [(s + offset, e + offset) for s, e in sentence_spans(excerpt)]
        whole = range(1 if offset > 0 else 0, len(spans) - (0 if complete else 1))
    else:
        # In order and apart, so those inside the excerpt follow each other.
        spans = list(sentences[bisect_left(sentences, offset, key=_start):
                               bisect_right(sentences, offset + len(excerpt), key=_end)])
        whole = range(len(spans))
    usable = {i for i in whole if spans[i][0] >= floor or spans[i][0] <= first < spans[i][1]}
    at = next((i for i in usable if spans[i][0] <= first < spans[i][1]), None)
    if at is None:
        return passage, lights
    counted: dict[int, int] = {}

    def count(i: int) -> int:  # its words (runs of non-space), each sentence counted once
        if i not in counted:
            counted[i] = len(excerpt[spans[i][0] - offset:spans[i][1] - offset].split())
        return counted[i]

    lo = hi = at
    total = count(at)
    grew = True
    while grew:
        grew = False
        for j in (lo - 1, hi + 1):
            if j in usable and total + (n := count(j)) <= words:
                total += n
                lo, hi, grew = min(lo, j), max(hi, j), True
    start, end = min(spans[lo][0], first), max(spans[hi][1], last)
    text = excerpt[start - offset:end - offset]
    # The passage's words are marked already; only the sentences added to it are looked at.
    inside = (max(start, passage.start), min(end, passage.end))
    terms = [(s + passage.start - start, e + passage.start - start) for s, e in lights.terms
             if inside[0] <= s + passage.start and e + passage.start <= inside[1]]
    for lo_, hi_ in ((start, min(end, passage.start)), (max(start, passage.end), end)):
        if hi_ > lo_ and stems:
            terms += [(s + lo_ - start, e + lo_ - start) for s, e, _ in
                      matched_words(excerpt[lo_ - offset:hi_ - offset], stems)]
    terms = tuple(sorted(terms))
    return (Passage(passage.article_id, passage.position, start, end, text),
            Highlights(terms, (first - start, last - start), lights.basis, lights.coverage))
