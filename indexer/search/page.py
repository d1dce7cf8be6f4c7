"""A page's hits shown: their best sentences by meaning, and the words around them after the
article's opening."""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np

from indexer.articles import Article
from indexer.chunking import LEAD_READ, Layout, Passage, opening, sentence_spans
from indexer.retrieval.backend import Build
from indexer.search.answers import SHOWN_WORDS, Asked, around, choose, strongest, window
from indexer.search.checks import (ANSWER_CHOICES, ANSWERED, EXPLAIN_SENTENCES, LOWER_CHOICES,
                                   MORE_SHOWN)
from indexer.search.highlight import Highlights, closest_sentences, highlight
from indexer.search.ranking import Pool
from indexer.search.results import Hit
from indexer.terms import analyse, query_stems


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
            layouts: dict[str, Layout], asked: Asked, firsts: dict[str, Passage]) -> list[Hit]:
    """The hits showing, instead of their passages, their best sentences with the sentences
    around them (answers.window), after their article's opening sentences where the best one is
    not among them (its lead); spans: the characters of each hit's article to read for it;
    layouts: the sentences and leads stored for the articles (else found in what is read);
    firsts: their first passages, where read (a stored lead inside one is not read again). A
    sentence added around the best one that holds more of the question's words (by asked's
    weights, and what it asks for) is the one in bold instead (answers.strongest)."""
    wanted = [(i, hit.article.id, span) for i, (hit, span) in enumerate(zip(hits, spans)) if span]
    if not wanted:
        return hits
    stems = asked.stems
    leads = [_lead(hits[i], layouts.get(aid)) for i, aid, _ in wanted]
    # An excerpt that starts the article holds its opening, and so may its first passage; the
    # others' are read too, in the same call, where one may be shown: up to a stored lead's
    # end, or LEAD_READ characters to find it in.
    known = [_holding(firsts.get(aid), lead) for (_, aid, _), lead in zip(wanted, leads)]
    opens = [bool(start) and (lead is None or bool(lead[0])) and first is None
             for (_, _, (start, _)), lead, first in zip(wanted, leads, known)]
    openings = [(aid, 0, LEAD_READ if lead is None else lead[0])
                for (_, aid, _), lead, read in zip(wanted, leads, opens) if read]
    excerpts = loaded.excerpts([(aid, start, end) for _, aid, (start, end) in wanted] + openings)
    read = iter(excerpts[len(wanted):])
    hits = list(hits)
    for (i, aid, (start, end)), text, lead, reads, first in zip(wanted, excerpts, leads, opens,
                                                                known):
        hit, layout = hits[i], layouts.get(aid)
        start_text = next(read) if reads else first if first is not None else text[:LEAD_READ]
        if lead is None:
            lead = opening(start_text, len(start_text) < LEAD_READ)
        lead_end, lead_words = lead
        if not lead_end or hit.passage.start + hit.highlights.sentence[0] < lead_end:
            lead_end = lead_words = 0  # the best sentence opens the article: one window
        passage, lights = window(hit.passage, hit.highlights, text, start,
                                 len(text) < end - start, stems, SHOWN_WORDS - lead_words,
                                 lead_end, layout.sentences if layout else None)
        opened, terms = None, ()
        if lead_end:
            opened = Passage(hit.passage.article_id, 0, 0, lead_end, start_text[:lead_end])
            # Its words were found when its first passage was a choice.
            words = asked.matched(first if first is not None else opened.text)
            terms = tuple((s, e) for s, e, _ in words if e <= lead_end) if stems else ()
            between = text[lead_end - start:passage.start - start]
            if start <= lead_end and not between.strip():  # the window follows on: one text
                passage, lights = joined(opened, terms, between, passage, lights)
                opened, terms = None, ()
        lights = strongest(passage, lights, asked, layout)
        hits[i] = replace(hit, passage=passage, highlights=lights, lead=opened, lead_terms=terms)
    return hits


def _holding(first: Passage | None, lead: tuple[int, int] | None) -> str | None:
    """The text of an article's first passage where it holds its stored lead (and starts the
    article, as the article's text does): what is shown of the lead, read already."""
    if first is None or lead is None or first.start != 0 or first.end < lead[0] or \
            len(first.text) != first.end:
        return None
    return first.text


def _lead(hit: Hit, layout: Layout | None) -> tuple[int, int] | None:
    """(end, words) of the hit's article's lead where stored; (0, 0) where it is stored but not
    shown, the best sentence being inside it; None where it is to be found in the text."""
    if layout is None:
        return None
    if not layout.lead_end or hit.passage.start + hit.highlights.sentence[0] < layout.lead_end:
        return 0, 0
    return layout.lead_end, layout.lead_words


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


def _picked(pool: Pool, found: dict[int, tuple[Passage, Article]], ats: list[int],
            first: int | None, asked: Asked, layout: Layout | None
            ) -> tuple[int, int, Highlights]:
    """Which passage a result shows: its id, its place in the pool (-1 if not there) and its
    highlights; answers.choose's pick among its choices (ats: places in the pool) and its
    article's opening passage (first: its id), or the first choice if none holds a word."""
    pids = [int(pool.ids[at]) for at in ats]
    if first is not None and first not in pids:
        pids.append(first)
        ats = [*ats, next(iter(np.flatnonzero(pool.ids == first).tolist()), -1)]
    candidates = [found[pid][0] for pid in pids]
    picked = choose(candidates, asked, layout)
    if picked is None:  # none holds the question's words: the best one
        return pids[0], ats[0], highlight(candidates[0].text, asked.stems, asked.weights)
    return pids[picked[0]], ats[picked[0]], picked[1]


def page_hits(loaded: Build, pool: Pool, shown: list[int], group: str, first_rank: int,
              mode: str, query: str) -> list[Hit]:
    """The hits of a page (shown: each result's best passage's place in the pool): the
    passage each shows, chosen among its article's best (answers.py) and widened to the
    sentences around its best one, its other passages, copies and thread."""
    stories, owners = pool.about.stories, pool.about.owners
    # Each result's other passages of the same article, best first (a story also holds its
    # copies', which are listed as copies instead).
    owns = [np.flatnonzero((stories == stories[at]) & (owners == owners[at]))[1:].tolist()
            if group == "article" else [] for at in shown]
    # What a result may show instead of its best passage: its article's next ones in the
    # pool that hold the question's words (answers.py; semantic mode has no word counts).
    worded = ~np.isnan(pool.keyword) if mode != "semantic" else np.ones(len(pool.ids), bool)
    choices = [[head, *[at for at in own if worded[at]][
        :(ANSWER_CHOICES if first_rank + i <= ANSWERED else LOWER_CHOICES) - 1]]
        for i, (head, own) in enumerate(zip(shown, owns))]
    layouts: dict[str, Layout] = {}
    # Each article's opening passage is a choice too, read in the same request: its opening
    # sentences are shown above a passage further on, whose bold sentence must then hold more
    # of the question's words than they do (the page says so).
    found = loaded.passages({int(pool.ids[at]) for choice, own in zip(choices, owns)
                             for at in [*choice, *own[:MORE_SHOWN]]}, layouts,
                            [int(owners[at]) for at in shown] if group == "article" else ())
    openings = {p.article_id: (pid, p) for pid, (p, _) in found.items() if p.position == 0}
    stems = query_stems(query)
    weights = loaded.idf(stems)
    asked = Asked(query, stems, weights)
    # Each result's thread and its story's copies: the page's, in one request each.
    threads = loaded.thread_stories(np.array([int(owners[at]) for at in shown], dtype=np.int64))
    shared = [found[int(pool.ids[at])][1].id for at in shown
              if group == "article" and pool.about.shared[at] and int(pool.ids[at]) in found]
    copies = loaded.story_copies(shared) if shared else {}
    hits, picks, unscored = [], [], []
    for head, own, choice, thread in zip(shown, owns, choices, threads.tolist()):
        ats = [at for at in choice if int(pool.ids[at]) in found]  # places in the pool
        if not ats:
            continue
        aid = found[int(pool.ids[ats[0]])][0].article_id
        first = openings.get(aid, (None,))[0] if group == "article" else None
        pid, chosen, lights = _picked(pool, found, ats, first, asked, layouts.get(aid))
        passage, article = found[pid]
        # An opening the keyword list did not reach: its score is asked for below; outside the
        # pool, its similarity is measured by the caller, as for a passage found by words alone.
        _, _, similarity, keyword = pool.entry(chosen) if chosen >= 0 else (pid, 0, None, None)
        if pid == first and keyword is None and mode != "semantic" and chosen not in ats:
            unscored.append(len(hits))
        others = [at for at in [head, *own] if at != chosen]
        more = tuple((int(pool.ids[at]), found[int(pool.ids[at])][0])
                     for at in others[:MORE_SHOWN] if int(pool.ids[at]) in found)
        hits.append(Hit(first_rank + len(hits), float(pool.scores[head]), pid, passage, article,
                        lights, similarity, keyword, more, len(others),
                        copies=tuple(copies.get(article.id, ())), thread_stories=int(thread)))
        # One result per story shows more of it; a passage result shows the passage ranked.
        picks.append(around(passage, lights) if group == "article" else None)
    return widened(loaded, _scored(loaded, hits, unscored, query), picks, layouts, asked,
                   {aid: passage for aid, (_, passage) in openings.items()})


def _scored(loaded: Build, hits: list[Hit], unscored: list[int], query: str) -> list[Hit]:
    """hits, those at unscored (openings shown that the keyword list did not reach) with their
    BM25 score for the question's words: they hold some, so the result says so (one request)."""
    if not unscored:
        return hits
    scores = loaded.keyword_scores(analyse(query), [hits[i].passage_id for i in unscored])
    hits = list(hits)
    for i, score in zip(unscored, scores.tolist()):
        if score > 0:
            hits[i] = replace(hits[i], keyword_score=score)
    return hits
