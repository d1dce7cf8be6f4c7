"""The commands that ask: search, timeline, batch and thread, printed for a terminal or as data."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from indexer import (
    DEFAULT_MODE,
    GROUPS,
    INTERVALS,
    MAX_K,
    MAX_PAGE,
    MODES,
    SORTS,
    IndexerError,
    make_filters,
)
from indexer.features.export import FORMATS as EXPORT_FORMATS
from indexer.progress import progress_bar, say
from indexer.search.timeline import timelines_json
from webapp.options import (backend_option, count_of, filter_options, index_dir_option,
                            model_option, open_searcher, QueryCommand)
from webapp.terminal import print_entity, print_hits, print_thread, print_timelines


@click.command(cls=QueryCommand)
@click.argument("query")
@click.option("--k", "-k", default=10, show_default=True, type=click.IntRange(1, MAX_K),
              help="Number of passages.")
@click.option("--mode", type=click.Choice(MODES), default=DEFAULT_MODE, show_default=True,
              help="hybrid: keyword and semantic fused; semantic: by meaning; keyword: BM25.")
@filter_options
@click.option("--group", type=click.Choice(GROUPS), default="article", show_default=True,
              help="article: each article once, by its best passage; passage: every passage.")
@click.option("--page", default=1, show_default=True, type=click.IntRange(1, MAX_PAGE),
              help="Page of k results.")
@click.option("--sort", type=click.Choice(SORTS), default="relevance", show_default=True,
              help="date: the 100 most relevant results, newest first.")
@click.option("--recency", type=click.IntRange(1, 36500), default=None,
              help="Favour recent articles: a score halves every N days of age.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as the JSON API does.")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS),
              help="Print every story that matches (all pages) as CSV or JSON Lines rows "
                   "instead.")
@click.option("--match/--no-match", "matching", default=None,
              help="List only the stories that match (by meaning or words), or with --format "
                   "every ranked result too.  [default: --no-match; with --format, --match]")
@index_dir_option
@backend_option
@model_option
def search(query: str, k: int, mode: str, since: str | None, until: str | None,
           sources: tuple[str, ...], languages: tuple[str, ...], entities: tuple[str, ...],
           group: str, page: int,
           sort: str, recency: int | None,
           as_json: bool, fmt: str | None, matching: bool | None, index_dir: Path,
           backend: str, model: str) -> None:
    """Print the passages that best answer QUERY, and how many stories match it."""
    try:
        searcher = open_searcher(index_dir, model, backend)
        filters = make_filters(since, until, sources, languages, entities)
        if fmt:
            from indexer.features.export import COLUMNS, all_results, write_rows

            write_rows(all_results(searcher, query, mode, filters, group, sort, recency,
                                   matching_only=matching is not False),
                       sys.stdout, fmt, columns=COLUMNS[:-1])
            return
        result = searcher.search(query, k, mode, filters, group, page, sort, recency,
                                 matching_only=bool(matching))
    except IndexerError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    print_hits(result)


@click.command(cls=QueryCommand)
@click.argument("query")
@click.option("--interval", type=click.Choice(INTERVALS), default="auto", show_default=True,
              help="Length of a period; one too fine for the span is made coarser.")
@click.option("--mode", type=click.Choice(MODES), default=DEFAULT_MODE, show_default=True)
@filter_options
@click.option("--stories", default=None, type=click.IntRange(1),
              help="Count only this many of the best matching stories.  [default: all that "
                   "match]")
@click.option("--share", is_flag=True,
              help="Also each period's stories in all (within the filters), and the share.")
@click.option("--compare", multiple=True, metavar="QUESTION",
              help="Another question counted on the same periods (up to 2).")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as the JSON API does.")
@index_dir_option
@backend_option
@model_option
def timeline(query: str, interval: str, mode: str, since: str | None, until: str | None,
             sources: tuple[str, ...], languages: tuple[str, ...], entities: tuple[str, ...],
             stories: int | None, share: bool,
             compare: tuple[str, ...],
             as_json: bool, index_dir: Path, backend: str, model: str) -> None:
    """Print how many of the stories matching QUERY fall in each period (and those of up to
    two more questions beside them), then their top outlets and words."""
    try:
        searcher = open_searcher(index_dir, model, backend)
        filters = make_filters(since, until, sources, languages, entities)
        found = searcher.timelines(query, mode, filters, interval, stories, share, compare)
        facets = searcher.facets(query, mode, filters, stories)
    except IndexerError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps({**timelines_json(found, filters.to_dict()),
                               "facets": facets.to_dict()}, indent=2, ensure_ascii=False))
        return
    print_timelines(found, facets, share)


@click.command()
@click.argument("questions_file", metavar="FILE",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--k", "-k", default=3, show_default=True, type=click.IntRange(1, MAX_K),
              help="Results a question.")
@click.option("--mode", type=click.Choice(MODES), default=DEFAULT_MODE, show_default=True)
@filter_options
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default=None,
              help="csv or jsonl.  [default: by --output's suffix, else csv]")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write here instead of standard output.")
@index_dir_option
@backend_option
@model_option
def batch(questions_file: Path, k: int, mode: str, since: str | None, until: str | None,
          sources: tuple[str, ...], languages: tuple[str, ...], entities: tuple[str, ...],
          fmt: str | None,
          output: Path | None, index_dir: Path,
          backend: str, model: str) -> None:
    """Answer every question of FILE: one a line, or a CSV/TSV with a 'question' column (its
    other columns are kept). Each question's best k results become rows (rank, score,
    headline, outlet, date, link, passage, answer sentence); a question that fails says why
    in its row, and the others go on."""
    from indexer.features.batch import answer_all, read_questions
    from indexer.features.export import write_rows

    fmt = fmt or ("jsonl" if output and output.suffix.lower() in (".jsonl", ".ndjson") else "csv")
    try:
        questions = read_questions(questions_file)
        searcher = open_searcher(index_dir, model, backend)
        filters = make_filters(since, until, sources, languages, entities)
        extra = list(dict.fromkeys(name for q in questions for name in q.extra))
        bar = progress_bar(total=len(questions), desc="Questions", unit=" questions")
        target = open(output, "w", newline="", encoding="utf-8") if output else \
            sys.stdout
        try:
            rows = write_rows(answer_all(searcher, questions, k, mode, filters, bar.update),
                              target, fmt, extra, file=output is not None)
        finally:
            bar.close()
            if output:
                target.close()
    except IndexerError as exc:
        raise click.ClickException(str(exc)) from None
    say(f"{count_of(len(questions), 'question')}: {count_of(rows, 'row')}"
        + (f" written to {output}" if output else ""))


@click.command("thread")
@click.argument("article_id")
@click.option("--json", "as_json", is_flag=True, help="Print the thread as the API does.")
@index_dir_option
@backend_option
@model_option
def thread_command(article_id: str, as_json: bool, index_dir: Path, backend: str,
                   model: str) -> None:
    """Print the stories of ARTICLE_ID's thread (one event across outlets and days), first
    report first, with the words each adds to those before it."""
    try:
        stories = open_searcher(index_dir, model, backend).thread(article_id)
    except IndexerError as exc:
        raise click.ClickException(str(exc)) from None
    if not stories:
        raise click.ClickException(f"no thread for the article {article_id!r} in {index_dir}")
    if as_json:
        click.echo(json.dumps({"id": article_id, "stories": [s.to_dict() for s in stories]},
                              indent=2, ensure_ascii=False))
        return
    print_thread(stories)




@click.command("entity")
@click.argument("name")
@click.option("--interval", type=click.Choice(INTERVALS), default="auto", show_default=True,
              help="Length of a period of its timeline.")
@click.option("--json", "as_json", is_flag=True, help="Print it as the API does.")
@index_dir_option
@backend_option
@model_option
def entity_command(name: str, interval: str, as_json: bool, index_dir: Path, backend: str,
                   model: str) -> None:
    """Print a person, organisation or place by any of its names (index --entities): the names
    it was found as, its articles per period, the names most beside it, its latest articles."""
    try:
        found = open_searcher(index_dir, model, backend).entity(name, interval)
    except IndexerError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(found.to_dict(), indent=2, ensure_ascii=False))
        return
    print_entity(found)
