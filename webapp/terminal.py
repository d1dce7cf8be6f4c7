"""What the asking commands print on a terminal: results, timelines and threads. A result's
headline, outlet, date, link, id, passage and answer come from Hit.fields(), the one flat shape
that CSV, JSON Lines and the watches' findings take too."""

from __future__ import annotations

import textwrap
from typing import Sequence

import click

from indexer.search.entity import EntityView
from indexer.search.results import Facets, SearchResult, ThreadStory
from indexer.search.timeline import Timeline
from webapp.options import count_of

WIDTH = 96
INDENT = "   "


def marked(text: str, answer: str, width: int = WIDTH) -> str:
    """text (each run of whitespace one space) wrapped at width and indented, with answer (a
    part of it) in bold; click drops the bold where the output is not a terminal."""
    lines = textwrap.wrap(text, width=width - len(INDENT))
    start = text.find(answer) if answer else -1
    end = start + len(answer) if start >= 0 else -1
    out, at = [], 0
    for line in lines:
        while text.startswith(" ", at) and not line.startswith(" "):
            at += 1  # the space a line break took
        lo, hi = max(start, at) - at, min(end, at + len(line)) - at
        shown = line if start < 0 or lo >= hi else \
            line[:lo] + click.style(line[lo:hi], bold=True) + line[hi:]
        out.append(INDENT + shown)
        at += len(line)
    return "\n".join(out)


def print_hits(result: SearchResult) -> None:
    """The results of a page: headline; outlet, date, language, score and article id (what
    `thread` takes); link; the passage with its answer sentence in bold; what else matched;
    how many stories its thread holds."""
    if not result.hits:
        last = result.last_page
        click.echo(f"Page {result.page} is past the end: the {count_of(result.total, 'result')} "
                   f"end{'s' * (result.total == 1)} on page {last} (--page {last})."
                   if result.total else "Nothing found.")
    for hit in result.hits:
        f = hit.fields()
        meta = " · ".join(x for x in (f["source"], f["date"][:10], hit.article.language,
                                      f"score {hit.score:.3f}", f["article_id"]) if x)
        click.secho(f"{hit.rank}. {f['title'] or '(untitled)'}", bold=True)
        click.echo(f"{INDENT}{meta}")
        if f["url"]:
            click.echo(f"{INDENT}{f['url']}")
        click.echo(marked(f["passage"], f["answer"]))
        if hit.more_count:
            click.echo(f"{INDENT}(+{hit.more_count} more passage{'s' * (hit.more_count > 1)} "
                       "from this article)")
        if hit.copies:
            click.echo(f"{INDENT}also published by: " + ", ".join(
                f"{c.source or c.id}" + (f" ({c.date[:10]})" if c.date else "")
                for c in hit.copies))
        if hit.thread_stories > 1:
            click.echo(f"{INDENT}{hit.thread_stories} stories in its thread: "
                       f"news-search thread {f['article_id']}")
        click.echo()
    if result.has_more:
        click.echo(f"More: --page {result.page + 1}")
    n = result.matching
    click.echo(f"{count_of(n, 'story', 'stories')} match{'es' if n == 1 else ''} by meaning or "
               "words" + ("" if result.matching_only else " (--match lists them alone)") + ".")


def print_timelines(found: Sequence[Timeline], facets: Facets, share: bool) -> None:
    """Each period's count (and share) as a bar, one column a question, then the facets."""
    width = 50 // len(found)
    for t in found:
        verb = "matches" if t.matching == 1 else "match"
        click.echo(f"{count_of(t.matching, 'story', 'stories')} {verb} {t.query!r} by "
                   "meaning or words" + (f"; the best {t.stories} counted"
                                         if t.stories < t.matching else ""))
    if len(found) > 1:
        click.echo("            " + "  ".join(f"{chr(65 + i)}: {t.query}"
                                              for i, t in enumerate(found)))
    for at, bucket in enumerate(found[0].buckets):
        cells = []
        for t in found:
            b = t.buckets[at]
            value = b.share if share else b.count
            peak = t.peak_share if share else t.peak
            bar = "#" * round(width * value / peak) if peak else ""
            shown = (
                f"{b.count:4d}/{b.total:<5d} {100 * b.share:5.1f}%" if share else f"{b.count:5d}"
            )
            cells.append(f"{shown}  {bar:<{width}}")
        click.echo(f"{bucket.start.isoformat()}  " + "  ".join(cells).rstrip())
    undated = [t.undated for t in found]
    if any(undated):
        click.echo(f"undated     {'  '.join(f'{u:5d}' for u in undated)}")
    if facets.outlets:
        click.echo("Top outlets: " + ", ".join(f"{s} ({n})" for s, n in facets.outlets))
    if facets.words:
        click.echo("Top words: " + ", ".join(f"{w} ({n})" for w, n in facets.words))
    for kind, label in (("person", "people"), ("organisation", "organisations"),
                        ("place", "places")):
        named = [f"{name} ({n})" for k, name, n in facets.entities if k == kind]
        if named:
            click.echo(f"Top {label}: " + ", ".join(named))


def print_thread(stories: Sequence[ThreadStory]) -> None:
    """A thread's stories, first report first, with the words each adds."""
    for s in stories:
        a = s.article
        meta = " · ".join(x for x in (a.date[:10], a.source) if x)
        click.secho(f"{a.heading}", bold=True)
        copies = len(s.copies)
        click.echo(f"{INDENT}{meta} · {a.id}" + (
            f" (and {copies} cop{'y' if copies == 1 else 'ies'})" if copies else ""))
        if s.adds:
            click.echo(f"{INDENT}adds: {', '.join(s.adds)}")


def print_entity(found: EntityView) -> None:
    """An entity: its name, kind and variants, its articles per period, the names beside it,
    its latest articles."""
    click.secho(found.name, bold=True)
    names = ", ".join(f"{v} ({n})" for v, n in found.variants)
    click.echo(f"{INDENT}a {found.kind} named in {count_of(found.articles, 'article')}: as "
               f"{names}")
    t = found.timeline
    for b in t.buckets:
        bar = "#" * round(40 * b.count / t.peak) if t.peak else ""
        click.echo(f"{b.start.isoformat()}  {b.count:5d}  {bar}".rstrip())
    if t.undated:
        click.echo(f"undated     {t.undated:5d}")
    if found.companions:
        click.echo("Named beside it: " + ", ".join(f"{e} ({n})" for _, e, n in found.companions))
    click.echo("Latest:")
    for a in found.latest:
        click.echo(f"{INDENT}{a.date[:10] or '(undated)'}  {a.heading} · {a.id}")
