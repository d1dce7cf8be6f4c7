"""What a search returns: its hits, a thread's stories, facets, and the page of results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from indexer.articles import Article
from indexer.chunking import Passage
from indexer.filters import Filters
from indexer.search.highlight import Highlights


@dataclass(frozen=True)
class Hit:
    """One ranked passage with its article and why it matched."""

    rank: int
    score: float
    passage_id: int
    passage: Passage
    article: Article
    highlights: Highlights
    similarity: float | None = None  # cosine of question and passage (None in keyword mode)
    keyword_score: float | None = None  # BM25, when the passage matched the query's words
    more: tuple[tuple[int, Passage], ...] = ()  # (id, passage): the article's other matches
    more_count: int = 0  # how many there are in all (more holds the first few)
    copies: tuple[Article, ...] = ()  # the same story published elsewhere (syndicated copies)
    thread_stories: int = 1  # stories in its thread (threads.py), itself included
    # The article's opening sentences, shown before the passage when it does not hold them
    # (answers.py), with the query's words in it (offsets into its text).
    lead: Passage | None = None
    lead_terms: tuple[tuple[int, int], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The hit as the JSON API returns it."""
        return {
            "rank": self.rank,
            "score": round(self.score, 4),
            "passage_id": self.passage_id,
            "text": self.passage.text,
            "position": self.passage.position,
            "offsets": [self.passage.start, self.passage.end],
            "article": self.article.to_dict(),
            "similarity": None if self.similarity is None else round(self.similarity, 4),
            "keyword_score": None if self.keyword_score is None else round(self.keyword_score, 4),
            "highlights": {
                "terms": [list(t) for t in self.highlights.terms],
                "sentence": list(self.highlights.sentence) if self.highlights.sentence else None,
                "sentence_by": self.highlights.basis if self.highlights.sentence else None,
            },
            "also_published": [a.to_dict() for a in self.copies],
            "more_passages": self.more_count,
            "thread_stories": self.thread_stories,
            "lead": None if self.lead is None else {
                "text": self.lead.text, "offsets": [self.lead.start, self.lead.end],
                "terms": [list(t) for t in self.lead_terms]},
            "more": [{"passage_id": pid, "position": p.position, "offsets": [p.start, p.end],
                      "text": p.text} for pid, p in self.more],
        }

    @property
    def more_ids(self) -> list[int]:
        """The ids of the other matching passages shown."""
        return [pid for pid, _ in self.more]

    @property
    def answer(self) -> str:
        """The sentence the result marks as answering best (in bold on the page), or ""."""
        span = self.highlights.sentence
        return " ".join(self.passage.text[span[0]:span[1]].split()) if span else ""

    def fields(self) -> dict[str, Any]:
        """The result as every flat output shows it (a CSV or JSON Lines row, a watch's
        finding and its feed entry, a terminal's lines): to_dict's shape flattened to rank,
        score, headline, outlet, date, link, article id, the passage's place and text (each run
        of whitespace one space), and the answer sentence."""
        shaped = self.to_dict()
        a = shaped["article"]
        return {"rank": shaped["rank"], "score": shaped["score"], "title": a["title"],
                "source": a["source"], "date": a["date"], "url": a["url"], "article_id": a["id"],
                "position": shaped["position"], "passage": " ".join(shaped["text"].split()),
                "answer": self.answer}


@dataclass(frozen=True)
class ThreadStory:
    """A story of a thread: its article, its copies, its lead passage, and the words it adds
    to the stories before it."""

    article: Article
    copies: tuple[Article, ...]
    lead: str
    adds: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"article": self.article.to_dict(), "lead": self.lead, "adds": list(self.adds),
                "also_published": [a.to_dict() for a in self.copies]}


@dataclass(frozen=True)
class Facets:
    """What the best matching stories have most: their outlets and their words, with how many
    of the stories each is found in."""

    stories: int
    outlets: list[tuple[str, int]]
    words: list[tuple[str, int]]
    entities: list[tuple[str, str, int]] = ()  # (kind, name, stories), with index --entities

    def to_dict(self) -> dict[str, Any]:
        return {"stories": self.stories,
                "outlets": [{"source": s, "stories": n} for s, n in self.outlets],
                "words": [{"word": w, "stories": n} for w, n in self.words],
                "entities": [{"kind": k, "name": e, "stories": n} for k, e, n in self.entities]}


@dataclass(frozen=True)
class SearchResult:
    """The hits for one query, and how long finding them took."""

    query: str
    k: int
    mode: str
    hits: list[Hit]
    took_ms: float
    page: int = 1
    total: int = 0  # results listed, across all pages
    matching: int = 0  # stories that match the question (search/matching.py)
    group: str = "article"
    filters: Filters = Filters()
    sort: str = "relevance"
    recency: int | None = None
    matching_only: bool = False  # the results are the matching stories alone

    @property
    def has_more(self) -> bool:
        """Whether a next page holds results."""
        return self.page * self.k < self.total

    @property
    def last_page(self) -> int:
        """The page the results end on (0 where there are none)."""
        return -(-self.total // self.k)

    def to_dict(self) -> dict[str, Any]:
        """The result as the JSON API returns it."""
        return {
            "query": self.query,
            "k": self.k,
            "mode": self.mode,
            "group": self.group,
            "sort": self.sort,
            "recency": self.recency,
            "filters": self.filters.to_dict(),
            "page": self.page,
            "total": self.total,
            "matching": self.matching,
            "matching_only": self.matching_only,
            "has_more": self.has_more,
            "took_ms": round(self.took_ms, 2),
            "results": [h.to_dict() for h in self.hits],
        }


