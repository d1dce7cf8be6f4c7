"""The `news-search` command: build the index, evaluate it, serve it; asking and watching
commands are in asking.py and watch_cli.py."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from indexer import (
    EVAL_MODES,
    ArchiveError,
    IndexerError,
    IndexNotFoundError,
    ReadOptions,
    build_index,
    human_size,
    update_index,
)
from indexer.articles import printable
from indexer.building.ray_cluster import LOCAL as RAY_LOCAL
from indexer.building.ray_cluster import RayCluster, stop_ray
from indexer.embedding.onnx_query import DEFAULT_PRECISION, PRECISIONS
from indexer.reading.report import DEFAULT_MAX_ARTICLE_BYTES, DEFAULT_MAX_FILE_BYTES
from indexer.retrieval.factory import open_backend
from indexer.retrieval.milvus.client import MilvusAddress, connect, is_milvus
from webapp.milvus_cli import build_on_cluster, copy_to_milvus
from indexer.storage.indexdir import current_build, served_build
from indexer.storage.vectors import AUTO_IVF_FROM, NPROBE, NPROBE_CELLS
from indexer.storage.vectors import KINDS as STORE_KINDS
from webapp.asking import batch, entity_command, search, thread_command, timeline
from webapp.options import (
    SIZE,
    backend_option,
    count_of,
    default_seeds,
    echo_read,
    given_embedder,
    index_dir_option,
    model_option,
    open_searcher,
    precision_option,
)
from webapp.watch_cli import warn_unchecked, watch

from .serving import (
    MAX_DEFAULT_WORKERS,
    answer_as,
    client_timeout,
    default_workers,
    listen,
    prepare_questions,
    serve_processes,
    server_url,
)

@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="news-search")
def main() -> None:
    """Semantic search over a news archive."""


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
    echo_read(report, m.articles, f" ({result.read_seconds:.1f} s)")
    if m.updated:
        u = m.updated
        click.echo(f"Updated: {count_of(u['added'], 'article')} added, {u['changed']} changed "
                   f"(re-embedded), {u['removed']} removed; "
                   f"{count_of(m.passages, 'passage')} in all")
    else:
        click.echo(f"Embedded {count_of(m.passages, 'passage')} in {result.embed_seconds:.1f} s "
                   f"({result.passages_per_second:.1f} passages/s, {m.precision})")
    click.echo(f"Built {result.folder} in {m.build_seconds:.1f} s ({m.store}); it is now the "
               f"index served from {index_dir}")


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
            open_backend(index_dir, model, backend)  # an unknown backend before any work
        else:  # a Milvus that does not answer is said now, not after the build
            connect(address).close()
        cluster = None
        if ray_address:
            click.echo(f"Joining the Ray cluster {ray_address}", err=True)
            cluster = RayCluster(ray_address, actors)
            click.echo(f"Reading in Ray Data tasks; chunking and embedding with {cluster.actors} "
                       f"actor{'s' * (cluster.actors > 1)} on Ray", err=True)
        if address is not None and store_kind is None and not update:
            store_kind = "flat"  # Milvus is fed the embedders' vectors, not reconstructions
        read_options = ReadOptions(follow_links, max_file_size, max_article_size)
        if cluster is not None and address is not None and \
                not (update and _has_build(index_dir)):  # the cluster writes: no folder
            build_on_cluster(list(paths), address, cluster, model, precision, read_options,
                             find_entities, update)
            return _check_watches(index_dir, model, backend)
        before = _built_before(index_dir) if update and address is not None else None
        _run_build(list(paths), index_dir, model, update, store_kind=store_kind,
                   nprobe=nprobe, precision=precision, cluster=cluster,
                   entities=find_entities or None, read_options=read_options)
        if ray_address:
            stop_ray()
        if address is not None:
            copy_to_milvus(index_dir, address, before)
    except (IndexerError, ArchiveError) as exc:
        raise click.ClickException(str(exc)) from None
    _check_watches(index_dir, model, backend)


def _has_build(index_dir: Path) -> bool:
    try:
        current_build(index_dir)
        return True
    except IndexNotFoundError:
        return False


def _built_before(index_dir: Path) -> Path:
    """The index folder's build that an update through Milvus starts from."""
    try:
        return current_build(index_dir)
    except IndexNotFoundError as exc:
        raise IndexNotFoundError(f"{exc}. An update through Milvus is made in the index folder "
                                 "the build was made in (--index-dir); a build on a Ray cluster "
                                 "into Milvus (--ray --backend, no folder) is updated with "
                                 "--ray too") from None


def _check_watches(index_dir: Path, model: str, backend: str) -> None:
    """After a build, check the saved watches against it (their feeds follow it); a watch that
    fails is said, and the build stands."""
    from indexer.features.watches import Watches

    watches = Watches(index_dir)
    try:
        if not watches.names():
            return
        report = watches.check(open_searcher(index_dir, model, backend))
    except IndexerError as exc:
        click.echo(f"Warning: the watches were not checked: {exc}", err=True)
        return
    for w, new in report:
        click.echo(f"Watch {w.name}: {count_of(len(new), 'new story', 'new stories')}")
    for name in watches.damaged:
        click.echo(f"Warning: the watch {name!r} is damaged and was not checked: remove it "
                   f"with `news-search watch remove {name}`", err=True)
    warn_unchecked(watches)
    click.echo("`news-search watch` lists them.")


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
    how often the answer is in one of the first k passages shown, and sentence@k how often it
    is in one of the first k sentences marked in bold.
    """
    from indexer import evaluate

    try:
        report = evaluate(collection, modes or EVAL_MODES, model=model, index_dir=index_dir,
                          progress=True, precision=precision, backend=backend,
                          embedder=given_embedder())
    except (IndexerError, ArchiveError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    built = f", built in {report.build_seconds:.0f} s" if report.build_seconds else ", reused"
    click.echo(f"{report.collection}: {report.articles} articles, {report.passages} passages, "
               f"model {report.model} ({report.precision} passages){built}")
    answers = any(row.answer_at_1 is not None for row in report.rows)
    extra = " answer@1 | answer@3 | answer@10 | sentence@1 | sentence@3 |" if answers else ""
    click.echo(f"| mode | nDCG@10 | Recall@100 | MRR@10 |{extra} median ms | queries |")
    click.echo("|" + " --- |" * (11 if answers else 6))
    for row in report.rows:
        cells = "".join(f" {value:.4f} |" for value in (
            row.answer_at_1, row.answer_at_3, row.answer_at_10, row.sentence_at_1,
            row.sentence_at_3)) if answers else ""
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
def serve(ctx: click.Context, host: str, port: int, workers: int | None,
          names: tuple[str, ...], build_seeds: bool, index_dir: Path, backend: str,
          model: str) -> None:
    """Serve the search page and the JSON API.

    One worker process a core answers (gunicorn, each reading its connections with gevent). If
    the default index folder holds no index yet, one is built from the seed archive first;
    another folder must hold one, or be given --seeds.
    """
    started = time.time()
    client_timeout()  # a bad NEWS_SEARCH_CLIENT_TIMEOUT is refused before anything starts
    workers = workers or default_workers()
    listener = listen(host, port)
    url = server_url(host, port)
    os.environ["NEWS_SEARCH_SERVER_NAMES"] = answer_as(host, names)  # the workers read it
    if is_milvus(backend):  # the workers' apps read it from the environment
        os.environ["NEWS_SEARCH_BACKEND"] = backend
    try:
        precision = None
        if is_milvus(backend):  # the index is there; the folder is not needed
            precision = open_backend(index_dir, model, backend).open().manifest.precision
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
    except (IndexerError, ArchiveError) as exc:
        raise click.ClickException(str(exc)) from None
    # Each worker loads the index; the server stops if none can at its start.
    serve_processes(listener, workers, index_dir, model, started, url)



main.add_command(search)
main.add_command(timeline)
main.add_command(batch)
main.add_command(thread_command)
main.add_command(entity_command)
main.add_command(watch)


if __name__ == "__main__":
    main()
