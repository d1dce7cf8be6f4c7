"""A thread's stories, first report first, with the words each adds to those before it."""

from __future__ import annotations

from indexer.articles import Article
from indexer.retrieval.backend import Build
from indexer.search.checks import LETTERS, THREAD_ADDS
from indexer.search.results import ThreadStory
from indexer.terms import STOPWORDS, word_stem


def thread_stories(loaded: Build, article_id: str) -> list[ThreadStory]:
    """The stories of the article's thread, first report first, each with its copies, its
    lead passage and the words it adds: those of its headline and lead that no earlier
    story of the thread has, the rarest first. [] if the article has no thread recorded."""
    stories: dict[str, list[tuple[Article, str]]] = {}
    for article, story, lead in loaded.thread(article_id):
        stories.setdefault(story, []).append((article, lead))
    seen: set[str] = set()
    found = []
    for members in stories.values():
        (article, lead), copies = members[0], tuple(a for a, _ in members[1:])
        words = {word_stem(w): w for w in reversed(LETTERS.findall(f"{article.title}\n{lead}"))
                 if w.lower() not in STOPWORDS}
        new = [s for s in words if s not in seen]
        weights = loaded.idf(new) if new and seen else {}
        adds = tuple(words[s] for s in sorted(new, key=lambda s: (-weights.get(s, 0), s))
                     [:THREAD_ADDS]) if seen else ()
        seen.update(words)
        found.append(ThreadStory(article, copies, lead, adds))
    return found
