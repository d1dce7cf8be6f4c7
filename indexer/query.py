"""The query syntax, the one place it is read: a question in plain words, with operators a
reporter types.

    "read my lips"      the words as a phrase, in this order (headline or text)
    +word  +"a phrase"  the article must hold it
    -word  -"a phrase"  the article must not hold it
    title:word  title:"a phrase"  the headline must hold it (+title: and -title: too)

Everything else is plain words, searched as today; a plain question (no operator, no quote)
is searched exactly as typed. An operator begins a term: "Jong-nam" and "1+1" are words. What
the operators ask for is searched by meaning and words like the rest (a term to exclude is
not), then the articles that do not hold every required term, or hold an excluded one, are
dropped. A word matches by its stem ("+evacuation" is held by "evacuations"); a phrase by its
words in order, case, accents and punctuation aside.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from indexer.errors import QueryError
from indexer.terms import (NON_ASCII_WORD, STOPWORDS, WORD, fold, starts_word, stem,
                           stem_candidates)

_SPACE = re.compile(r"\s")
# Where a term may begin with an operator: + or - before a letter, a quote or title:, or title:.
_OPERATOR = re.compile(r'(?:^|(?<=\s))(?:[+-](?=[^\W\d_]|"|title:\S)|title:(?=\S))', re.I)


@dataclass(frozen=True)
class Term:
    """A word or phrase an article must hold (or must not), in its text or its headline."""

    text: str
    phrase: bool = False
    title: bool = False  # in the headline only

    @cached_property
    def _sought(self) -> tuple[str | None, list[str]]:
        """(the stem of a term of one word, else None; the term's words, folded): made once,
        not for every article."""
        tokens = WORD.findall(fold(self.text))
        return (stem(tokens[0]) if not self.phrase and len(tokens) == 1 else None), tokens

    @cached_property
    def stems(self) -> tuple[str, ...]:
        """The stems of the term's words that keyword search indexes (not stopwords): an
        article that holds the term holds each of them, as the keyword index has them
        (terms.analyse tokenises the same folded words)."""
        return tuple(dict.fromkeys(stem(w) for w in self._sought[1] if w not in STOPWORDS))

    @property
    def word(self) -> str | None:
        """The stem of a term of one word looked for anywhere in the article (not in the
        headline alone), which an index of articles by their words may settle; else None."""
        return None if self.title else self._sought[0]

    def held_by(self, article: "_Article") -> bool:
        """Whether the article holds the term: a word by its stem, a phrase (or a term of
        several words, "U.S.-led") by its words in order."""
        single, tokens = self._sought
        folded = article.folded(self.title)
        if single is not None:
            return _holds_stem(folded, single)
        if not tokens:  # no word at all: held by a text without words, as " " + "" + " "
            return not WORD.search(folded)
        found = self._words.search(folded)
        while found is not None and not starts_word(folded, found.start()):
            found = self._words.search(folded, found.start() + 1)
        return found is not None

    @cached_property
    def _words(self) -> re.Pattern:
        """The term's words, one after the other, as splitting a folded text into words (WORD)
        would find them where the first begins a word: each a whole word (WORD would not go
        on) with nothing but non-word characters between them. One scan of the text, not a
        split of the whole of it (an article read for `-"of the"` is a few thousand words)."""
        whole = "(?![’'.,]?\\w)"
        return re.compile("\\W+".join(re.escape(t) + whole for t in self._sought[1]))


def _holds_stem(folded: str, wanted: str) -> bool:
    """Whether a word (WORD) of a folded text has this stem. Only the words that begin with one
    of its prefixes are stemmed (terms.stem_prefixes), in a text whose words are ASCII (the
    rule was checked on those); other texts stem every word."""
    if not folded.isascii() and NON_ASCII_WORD.search(folded):
        return any(stem(w) == wanted for w in WORD.findall(folded))
    return any(stem(folded[start:end]) == wanted
               for start, end in stem_candidates(folded, frozenset((wanted,))))


class _Article:
    """An article's headline and text as terms are looked for in them, each folded once."""

    def __init__(self, title: str, text: str):
        self.parts = {True: title, False: f"{title}\n{text}"}
        self._folded: dict[bool, str] = {}

    def folded(self, title: bool) -> str:
        if title not in self._folded:
            self._folded[title] = fold(self.parts[title])
        return self._folded[title]


@dataclass(frozen=True)
class Query:
    """A parsed query: what retrieval searches (text), and what the articles kept must hold
    (required) and must not (excluded)."""

    text: str
    required: tuple[Term, ...] = field(default=())
    excluded: tuple[Term, ...] = field(default=())

    @property
    def plain(self) -> bool:
        """Whether it asks for nothing beyond its words (no article is dropped)."""
        return not self.required and not self.excluded

    def admits(self, title: str, text: str) -> bool:
        """Whether an article of this headline and text holds every required term and no
        excluded one."""
        article = _Article(title, text)
        return all(t.held_by(article) for t in self.required) and \
            not any(t.held_by(article) for t in self.excluded)


def words(text: str) -> str:
    """text's words, folded, one space apart: how phrases are compared."""
    return " ".join(WORD.findall(fold(text)))


def parse(query: str) -> Query:
    """The query read. Text that only looks like an operator is read as words: a dash between
    words (" - "), a sign before a number ("-5C"), a quote left open ("?) or around nothing,
    "title: " before a space. QueryError, naming the column (from 1), for an operator before
    an empty phrase (+"", title:""), or a query that only excludes."""
    if '"' not in query and not _OPERATOR.search(query):
        return Query(query)  # a plain question, searched exactly as typed
    searched, required, excluded = [], [], []
    at = 0
    while at < len(query):
        if _SPACE.match(query, at):
            at += 1
            continue
        start, operator = at, _OPERATOR.match(query, at)  # a term's start: after a space
        sign = query[at] if operator and query[at] in "+-" else ""
        at += len(sign)
        title = bool(operator) and query[at:at + 6].lower() == "title:"
        at += 6 if title else 0
        end = query.find('"', at + 1) if query[at] == '"' else -1
        if end > 0 and not words(query[at + 1:end]) and operator:
            raise QueryError(f"the phrase at column {at + 1} holds no word: put the words to "
                             f"look for between the quotes after {query[start:at]}")
        if end > 0 and words(query[at + 1:end]):
            text, phrase, at = query[at + 1:end], True, end + 1
        else:  # a word (a quote left open, or one around nothing, is one of its characters)
            stop = _SPACE.search(query, at)
            text, phrase = query[at:stop.start() if stop else len(query)], False
            at = stop.start() if stop else len(query)
        term = Term(text, phrase, title)
        if sign == "-":
            excluded.append(term)
            continue
        searched.append(text)
        if sign == "+" or title or phrase:
            required.append(term)
    if not searched:
        raise QueryError("the query only excludes: add a word or a phrase to search for")
    if not required and not excluded:
        return Query(query)  # quotes that open no phrase: a plain question after all
    return Query(" ".join(searched), tuple(required), tuple(excluded))
