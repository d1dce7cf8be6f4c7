"""`news-search watch`: saved searches added, listed, removed and checked from the command line."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from indexer import (
    DEFAULT_MODE,
    MODES,
    IndexerError,
    make_filters,
)
from webapp.options import (backend_option, count_of, filter_options, index_dir_option,
                            model_option, open_searcher, QueryCommand)

if TYPE_CHECKING:
    from indexer.features.watches import Watches


@click.group("watch", invoke_without_command=True)
@click.pass_context
@index_dir_option
@backend_option
@model_option
def watch(ctx: click.Context, index_dir: Path, backend: str, model: str) -> None:
    """Saved searches and the new stories in them. Alone: check every watch against the index
    served and print the stories each has found that were not shown yet, best first (`index`
    checks them after each build, so this lists what the builds since brought)."""
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


@watch.command("add", cls=QueryCommand)
@_here
@click.argument("name")
@click.argument("query")
@click.option("--mode", type=click.Choice(MODES), default=DEFAULT_MODE, show_default=True)
@filter_options
@click.option("--depth", default=0, show_default=True, type=click.IntRange(0, 100),
              help="Follow its N best ranked stories too, besides those that match.")
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
    click.echo(f"Saved the watch {w.name!r}: {w.query!r}, following the {len(w.seen)} "
               f"articles of the stories that match it{_depth(w.depth)}; `news-search watch` "
               "lists the new stories later builds bring.")


def _depth(depth: int) -> str:
    return f" and of its {depth} best" if depth else ""


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
        click.echo(f"   {w.mode}, the stories that match{_depth(w.depth)}"
                   f"{' ' + filters if filters else ''}; saved {w.created}")
        for c in reversed(w.checks[-5:]):
            click.echo(f"   {c['at']}  {c['index']}  "
                       + ("saved" if c.get("saved")
                          else count_of(c["new"], "new story", "new stories")))


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
@click.option("--all", "history", is_flag=True,
              help="Print every finding kept, newest first, read or not.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON Lines.")
@click.pass_context
def watch_check(ctx: click.Context, names: tuple[str, ...] = (), history: bool = False,
                as_json: bool = False, **here: Any) -> None:
    """Check the watches (all, or NAMES) against the index served; print the new stories not
    shown yet (then they are read), or with --all every one kept."""
    watches, searcher = _watch_context(ctx, here)
    try:
        watches.check(searcher(), list(names) or None)
        warn_unchecked(watches)
        report = [(w, w.findings) for w in (watches.get(n) for n in names or watches.names())] \
            if history else watches.unread(list(names) or None)
    except IndexerError as exc:
        raise click.ClickException(str(exc)) from None
    if not report and not as_json:
        click.echo("No watches: `news-search watch add NAME QUERY` saves one.")
    for w, found in report:
        if as_json:
            for f in found:
                click.echo(json.dumps({"watch": w.name, **f}, ensure_ascii=False))
            continue
        what = "kept" if history else "new"
        click.secho(f"{w.name}: {count_of(len(found), f'{what} story', f'{what} stories')} "
                    f"({w.query})", bold=True)
        for f in found:
            _print_finding(f)


def warn_unchecked(watches: Watches) -> None:
    """Say which watches the index served could not answer, and why (the others were
    checked)."""
    for name, why in watches.unchecked:
        click.echo(f"Warning: the watch {name!r} was not checked: {why}; save it again with "
                   f"`news-search watch add {name} ...`, or remove it", err=True)


def _print_finding(f: dict[str, Any]) -> None:
    meta = " · ".join(x for x in (f["source"], f["date"][:10], f.get("key", "")) if x)
    click.echo(f"  {f['rank']}. {f['title'] or '(untitled)'}" + (f" · {meta}" if meta else ""))
    if f.get("follows"):
        click.echo(f"     a follow-up in the thread of {f['follows']}")
    click.echo(textwrap.fill(f["passage"], width=96, initial_indent="     ",
                             subsequent_indent="     "))
