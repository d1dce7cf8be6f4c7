"""A page's hits shown: their best sentences by meaning, and the words around them after the
article's opening."""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np

from indexer.chunking import Passage, sentence_spans
from indexer.retrieval.backend import Build
from indexer.search.answers import LEAD_READ, SHOWN_WORDS, opening, window
from indexer.search.checks import EXPLAIN_SENTENCES
from indexer.search.highlight import Highlights, closest_sentences, matched_words
from indexer.search.results import Hit


def explain_by_meaning(hits: list[Hit], vector: np.ndarray,
                       encode: Callable[[list[str]], np.ndarray]) -> list[Hit]:
    """Hits that share no word with the query get, as their best sentence, the one closest
    to it in meaning (one call for the page); the others keep the one with most words.

    The sentences are embedded as the question was, in the index's precision: for int8
    passages, through the questions' int8 graph, so a server loads no float32 graph. In the
    top 10 of 300 union headlines (2,725 passages of two sentences or more) it picked the
    sentence float32 picks in 95.8%; the others were near ties (0.0075 of cosine below
    float32's pick at the median, 0.043 at most)."""
    todo, sentences = [], 0
    for i, hit in enumerate(hits):
        if hit.highlights.sentence is None and sentences < EXPLAIN_SENTENCES:
            todo.append(i)
            sentences += len(sentence_spans(hit.passage.text))
    if not todo:
        return hits
    spans = closest_sentences([hits[i].passage.text for i in todo],
                              vector, encode)
    hits = list(hits)
    for i, span in zip(todo, spans):
        old = hits[i].highlights
        hits[i] = replace(hits[i], highlights=Highlights(old.terms, span, "meaning"))
    return hits


def widened(loaded: Build, hits: list[Hit], spans: list[tuple[int, int] | None],
             stems: frozenset[str]) -> list[Hit]:
    """The hits showing, instead of their passages, their best sentences with the sentences
    around them (answers.window), after their article's opening sentences where the best one is
    not among them (answers.opening); spans: the characters of each hit's article to read for it."""
    wanted = [(i, hit.article.id, span) for i, (hit, span) in enumerate(zip(hits, spans)) if span]
    if not wanted:
        return hits
    # An excerpt that starts the article holds its opening; the others' openings are read too.
    excerpts = loaded.excerpts([(aid, start, end) for _, aid, (start, end) in wanted]
                               + [(aid, 0, LEAD_READ) for _, aid, (start, _) in wanted if start])
    openings = iter(excerpts[len(wanted):])
    hits = list(hits)
    for (i, aid, (start, end)), text in zip(wanted, excerpts):
        start_text = next(openings) if start else text[:LEAD_READ]
        hit = hits[i]
        lead_end, lead_words = opening(start_text, len(start_text) < LEAD_READ)
        if not lead_end or hit.passage.start + hit.highlights.sentence[0] < lead_end:
            lead_end = lead_words = 0  # the best sentence opens the article: one window
        passage, lights = window(hit.passage, hit.highlights, text, start,
                                 len(text) < end - start, stems, SHOWN_WORDS - lead_words,
                                 lead_end)
        opened, terms = None, ()
        if lead_end:
            opened = Passage(hit.passage.article_id, 0, 0, lead_end, start_text[:lead_end])
            terms = tuple((s, e) for s, e, _ in matched_words(opened.text, stems)) \
                if stems else ()
            between = text[lead_end - start:passage.start - start]
            if start <= lead_end and not between.strip():  # the window follows on: one text
                passage, lights = joined(opened, terms, between, passage, lights)
                opened, terms = None, ()
        hits[i] = replace(hit, passage=passage, highlights=lights, lead=opened, lead_terms=terms)
    return hits


def joined(lead: Passage, terms: tuple[tuple[int, int], ...], between: str, passage: Passage,
            lights: Highlights) -> tuple[Passage, Highlights]:
    """The lead and the passage that follows it (after `between`, whitespace) as one passage."""
    shift = len(lead.text) + len(between)
    moved = tuple((s + shift, e + shift) for s, e in lights.terms)
    sentence = None if lights.sentence is None else \
        (lights.sentence[0] + shift, lights.sentence[1] + shift)
    return (Passage(passage.article_id, passage.position, lead.start, passage.end,
                    lead.text + between + passage.text),
            replace(lights, terms=terms + moved, sentence=sentence))
