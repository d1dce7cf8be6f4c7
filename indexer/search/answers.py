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
from dataclasses import replace
from operator import itemgetter
from typing import Mapping, Sequence

from indexer.chunking import Layout, Passage, sentence_spans
from indexer.search.highlight import Highlights, marks, matched_words, weigher
from indexer.terms import word_stem

# What a question asks for, and what a sentence holding such an answer contains. A count is
# not a share: "two-thirds of the rebel bastion" does not say how many rebels there were.
_NUMBERS = (r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|"
            r"thirty|forty|fifty|hundreds?|thousands?|millions?|billions?|dozens?)\b")
_KINDS = (
    ("count", re.compile(r"\bhow many\b|\bwhat number\b|\bnumber of\b", re.I),
     re.compile(_NUMBERS + r"(?!-(thirds?|quarters?|halves|half|fifths?|tenths?)\b)", re.I)),
    ("number", re.compile(r"\bhow (much|old|long|far|big|often|large|tall|high)\b|\bwhat "
                          r"(percent(age)?|age|amount|size)\b", re.I),
     re.compile(_NUMBERS, re.I)),
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
    """What the question asks for ("count", "number", "time", "name") with the pattern of such an
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


class Asked:
    """A question as sentences are weighed against it: its stems' weights (weigher) and what
    it asks for (question_kind), found once for a page."""

    def __init__(self, query: str, stems: frozenset[str], weights: Mapping[str, float]):
        self.query, self.stems, self.weights = query, stems, weights
        self.kind = question_kind(query)
        self.weigh, self.total = weigher(stems, weights)
        self._matched: dict[str, list[tuple[int, int, str]]] = {}

    def matched(self, text: str) -> list[tuple[int, int, str]]:
        """matched_words of text, kept for the page: an opening is read for its choice and
        again for the lead shown above a result."""
        if (found := self._matched.get(text)) is None:
            found = self._matched[text] = matched_words(text, self.stems)
        return found


def choose(passages: Sequence[Passage], asked: Asked, layout: Layout | None = None
           ) -> tuple[int, Highlights] | None:
    """Which of passages (of one article) to show, with its highlights: the one whose best
    sentence holds the most of the question's words by weight, plus CUE_WEIGHT where that
    sentence holds what the question asks for, plus POSITION_WEIGHT / (1 + its position), the
    earliest on a tie; None if none holds any of its words. layout: the article's sentences,
    where stored (else found); a passage that holds too little to win is not looked at further."""
    kind, query, stems, weights = asked.kind, asked.query, asked.stems, asked.weights
    weigh, total = asked.weigh, asked.total
    bonus = CUE_WEIGHT if kind else 0.0
    best: tuple[float, int, Highlights] | None = None
    for at in sorted(range(len(passages)), key=lambda i: passages[i].position):
        passage = passages[at]
        text = passage.text
        matched = asked.matched(text)
        if not matched:
            continue
        early = POSITION_WEIGHT / (1 + passage.position)
        # No sentence holds more than its passage: a later one must do better to win.
        if best is not None and weigh({m[2] for m in matched}) / total + bonus + early <= best[0]:
            continue
        lights = marks(text, matched, stems, weights, layout.within(passage.start, passage.end)
                       if layout is not None and passage.end > passage.start else None)
        sentence = text[slice(*lights.sentence)] if lights.sentence else ""
        score = lights.coverage + bonus * holds_kind(sentence, kind, query) + early
        if lights.sentence and (best is None or score > best[0]):
            best = (score, at, lights)
    return None if best is None else (best[1], best[2])


def strongest(passage: Passage, lights: Highlights, asked: Asked, layout: Layout | None = None
              ) -> Highlights:
    """lights with, as their best sentence, the sentence of the passage shown that holds the
    most of the question's words by weight, plus CUE_WEIGHT where it holds what the question
    asks for: a sentence that the window added around the chosen one can hold more (it was in a
    passage not looked at). The chosen one on a tie. layout: its article's, where stored."""
    if lights.sentence is None:
        return lights
    text, (first, last) = passage.text, lights.sentence
    inside: set[str] = set()
    outside: list[tuple[int, str]] = []
    for start, end in lights.terms:
        stem = word_stem(text[start:end])
        if first <= start < last:
            inside.add(stem)
        else:
            outside.append((start, stem))
    if not outside:
        return lights
    kind, query, weigh, total = asked.kind, asked.query, asked.weigh, asked.total
    held = weigh(inside)
    # What no other sentence can beat, holding at most every word outside this one.
    most = weigh({stem for _, stem in outside} | inside) / total + CUE_WEIGHT * (kind is not None)
    if most <= held / total + 1e-9:
        return lights
    now = held / total + CUE_WEIGHT * holds_kind(text[first:last], kind, query)
    if most <= now + 1e-9:
        return lights
    spans = layout.within(passage.start, passage.end) if layout is not None else None
    if spans is None or (spans and spans[-1][1] > len(text)):
        spans = sentence_spans(text)
    by_span: dict[tuple[int, int], set[str]] = {}
    for start, stem in outside:
        span = spans[bisect_right(spans, start, key=_start) - 1] if spans else None
        if span is not None and span[0] <= start < span[1] and span != lights.sentence:
            by_span.setdefault(span, set()).add(stem)
    best, best_score, best_held = lights.sentence, now, held
    for span, found in sorted(by_span.items()):
        if span[0] <= first < span[1]:  # the whole of a sentence its passage cut
            found = found | inside
        weight = weigh(found)
        if weight / total + CUE_WEIGHT * (kind is not None) <= best_score + 1e-9:
            continue
        score = weight / total + CUE_WEIGHT * holds_kind(text[slice(*span)], kind, query)
        if score > best_score + 1e-9:
            best, best_score, best_held = span, score, weight
    if best == lights.sentence:
        return lights
    return replace(lights, sentence=best, coverage=best_held / total)


def outweighing(bold: str, shown: Sequence[str], stems: frozenset[str],
                weights: Mapping[str, float], query: str) -> list[str]:
    """The sentences of the texts shown that hold more of the question's words than the one in
    bold, by the rule the page states (their weights, plus CUE_WEIGHT for what it asks for, in
    a sentence holding any): none, if the page tells the truth. For tests and benchmarks."""
    asked = Asked(query, stems, weights)

    def score(sentence: str) -> float:
        if not (held := {stem for _, _, stem in matched_words(sentence, stems)}):
            return 0.0
        return asked.weigh(held) / asked.total + \
            CUE_WEIGHT * holds_kind(sentence, asked.kind, query)

    least = score(bold) + 1e-9
    return [s for text in shown for a, b in sentence_spans(text) if score(s := text[a:b]) > least]


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
