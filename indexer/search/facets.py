"""The outlets, words and names most frequent among the stories that match a question."""

from __future__ import annotations

from collections import Counter
from typing import Any

from indexer.retrieval.backend import Build
from indexer.retrieval.local import first_places
from indexer.search.checks import ENTITIES_SHOWN, LETTERS
from indexer.search.results import Facets
from indexer.terms import STOPWORDS, query_stems, word_stem


def count_facets(loaded: Build, pool: Any, query: str, stories: int | None, top: int
                 ) -> Facets:
    """The outlets and the words most frequent among the stories that match the query (pool:
    its matching pool; only the `stories` best if given): outlets by stories, words by the
    stories whose best passage holds them, weighed by how rare they are in the archive (BM25's
    IDF), the question's own left out."""
    heads = first_places(pool.about.stories)[:stories]
    found = loaded.passages([int(pool.ids[at]) for at in heads])
    outlets = Counter(a.source for _, a in found.values() if a.source)
    words = [set(LETTERS.findall(f"{a.title}\n{p.text}")) for p, a in found.values()]
    forms = Counter(w for held in words for w in held)  # a form -> the stories with it
    asked = set(query_stems(query))
    stem_of = {w: stem for w in forms
               if w.lower() not in STOPWORDS and (stem := word_stem(w)) not in asked}
    stories_with = Counter(stem for held in words for stem in {stem_of.get(w) for w in held}
                           if stem is not None)  # a stem -> the stories with it
    common = sorted(stem for stem, n in stories_with.items() if n > 1)
    weights = loaded.idf(common) if common else {}
    ranked = sorted(common, key=lambda st: (-stories_with[st] * weights.get(st, 0.0), st))
    shown = set(ranked[:top])
    best: dict[str, str] = {}  # a stem -> its commonest form (lower case, shorter on a tie)
    order = lambda w: (forms[w], w.islower(), -len(w), w)  # noqa: E731
    for w, stem in stem_of.items():
        if stem in shown and (stem not in best or order(w) > order(best[stem])):
            best[stem] = w
    words_ = [(best[st], stories_with[st]) for st in ranked[:top]]
    return Facets(len(found), sorted(outlets.items(), key=lambda o: (-o[1], o[0]))[:top],
                  words_, loaded.entity_counts(pool.about.owners[heads], ENTITIES_SHOWN))
