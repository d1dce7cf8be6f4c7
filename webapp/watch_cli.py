"""`news-search watch`: saved searches added, listed, removed and checked from the command line."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import click

from indexer import (
    DEFAULT_MODE,
    MODES,
    IndexerError,
    make_filters,
)
from webapp.options import (backend_option, count_of, filter_options, index_dir_option,
                            model_option, open_searcher)


@click.group("watch", invoke_without_command=True)
@click.pass_context
@index_dir_option
@backend_option
@model_option
def watch(ctx: click.Context, index_dir: Path, backend: str, model: str) -> None:
    """Saved searches and what is new in them. Alone: check every watch against the index
    served and print the passages each now finds that it never had before, best first
    (`index` checks them after each build, so this lists what the last one brought)."""
    ctx.obj = {"index_dir": index_dir, "backend": backend, "model": model}
    if ctx.invoked_subcommand is None:
        ctx.invoke(watch_check)


def _here(command: Any) -> Any:
    """--index-dir, --backend and --model taken after a subcommand too (`watch add NAME Q
    --index-dir X`), where they override those given before it."""
    for option in (
            click.option("--model", "here_model", default=None, metavar="MODEL",
                         help="As `watch --model`."),
            click.option("--backend", "here_backend", default=None, metavar="BACKEND",
                         help="As `watch --backend`."),
            click.option("--index-dir", "here_index_dir", default=None,
                         type=click.Path(file_okay=False, path_type=Path),
                         help="As `watch --index-dir`.")):
        command = option(command)
    return command


def _watch_context(ctx: click.Context, here: dict[str, Any]) -> tuple[Any, Any]:
    from indexer.features.watches import Watches

    o = {**ctx.obj, **{k.removeprefix("here_"): v for k, v in here.items() if v is not None}}
    return Watches(o["index_dir"]), (lambda: open_searcher(o["index_dir"], o["model"],
                                                           o["backend"]))


@watch.command("add")
@_here
@click.argument("name")
@click.argument("query")
@click.option("--mode", type=click.Choice(MODES), default=DEFAULT_MODE, show_default=True)
@filter_options
@click.option("--depth", default=20, show_default=True, type=click.IntRange(1, 100),
              help="How many of its best passages the watch follows.")
@click.pass_context
def watch_add(ctx: click.Context, name: str, query: str, mode: str, since: str | None,
              until: str | None, sources: tuple[str, ...], languages: tuple[str, ...],
              entities: tuple[str, ...], depth: int, **here: Any) -> None:
    """Save QUERY as the watch NAME (replacing one of that name); what it finds now is where
    it starts."""
    watches, searcher = _watch_context(ctx, here)
    try:
        filters = make_filters(since, until, sources, languages, entities)
        w = watches.save(searcher(), name, query, mode, filters,
                         depth)
    except IndexerError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Saved the watch {w.name!r}: {w.query!r}, following its {w.depth} best "
               f"passages; `news-search watch` lists what later builds bring.")


@watch.command("list")
@_here
@click.option("--json", "as_json", is_flag=True, help="Print the watches as the API does.")
@click.pass_context
def watch_list(ctx: click.Context, as_json: bool, **here: Any) -> None:
    """List the watches with their checks."""
    watches, _ = _watch_context(ctx, here)
    try:
        found = watches.all()
    except IndexerError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps({"watches": [w.summary() for w in found]}, indent=2,
                              ensure_ascii=False))
        return
    if not found:
        click.echo("No watches: `news-search watch add NAME QUERY` saves one.")
    for w in found:
        filters = " ".join(f"--{k} {v}" for k, vs in w.filters.to_dict().items()
                           for v in (vs if isinstance(vs, list) else [vs]))
        click.secho(f"{w.name}: {w.query}", bold=True)
        click.echo(f"   {w.mode}, {w.depth} passages{' ' + filters if filters else ''}; saved "
                   f"{w.created}")
        for c in reversed(w.checks[-5:]):
            click.echo(f"   {c['at']}  {c['index']}  "
                       + ("saved" if c.get("saved") else count_of(c["new"], "new passage")))


@watch.command("remove")
@_here
@click.argument("name")
@click.pass_context
def watch_remove(ctx: click.Context, name: str, **here: Any) -> None:
    """Remove the watch NAME."""
    watches, _ = _watch_context(ctx, here)
    try:
        watches.remove(name)
    except IndexerError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Removed the watch {name!r}.")


@watch.command("check")
@_here
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON Lines.")
@click.pass_context
def watch_check(ctx: click.Context, names: tuple[str, ...] = (), as_json: bool = False,
                **here: Any) -> None:
    """Check the watches (all, or NAMES) against the index served; print what is new."""
    watches, searcher = _watch_context(ctx, here)
    try:
        report = watches.check(searcher(), list(names) or None)
    except IndexerError as exc:
        raise click.ClickException(str(exc)) from None
    if not report and not as_json:
        click.echo("No watches: `news-search watch add NAME QUERY` saves one.")
    for w, new in report:
        if as_json:
            for f in new:
                click.echo(json.dumps({"watch": w.name, **f}, ensure_ascii=False))
            continue
        click.secho(f"{w.name}: {count_of(len(new), 'new passage')} ({w.query})", bold=True)
        for f in new:
            meta = " · ".join(x for x in (f["source"], f["date"][:10]) if x)
            click.echo(f"  {f['rank']}. {f['title'] or '(untitled)'}"
                       + (f" · {meta}" if meta else ""))
            click.echo(textwrap.fill(f["passage"], width=96, initial_indent="     ",
                                     subsequent_indent="     "))


