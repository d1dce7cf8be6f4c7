"""How `news-search serve` answers HTTP: several processes (gunicorn), each reading its
connections with gevent.

A search is CPU work in Python, numpy, FAISS and ONNX Runtime. Threads of one process share one
interpreter lock, so two threads on two cores answered 1.4 searches for every one a single thread
answers; two processes answer two (BENCHMARKS.md, Serving). So where gunicorn runs (Linux,
macOS) one worker process a core answers, each with its own copy of the index and the model.
Each reads its connections with gevent: a client that sends slowly, or not at all, holds a
greenlet, never the process, while searches run one at a time (they do not yield). gunicorn and
the index folder's lock need fork and fcntl: news-search serves on Linux and macOS (on Windows,
under WSL).
"""

from __future__ import annotations

import math
import os
import socket
import sys
import time
from pathlib import Path

import click
import orjson

from .security import LOOPBACK_NAMES

# A client has this long to send a whole request (its line and headers: a total, not a time per
# byte); each send of an answer has as long.
CLIENT_TIMEOUT_ENV, DEFAULT_CLIENT_TIMEOUT = "NEWS_SEARCH_CLIENT_TIMEOUT", 10.0
# Connections one worker holds open at once (reading, idle or answered); more wait in the
# listen backlog. Each costs a greenlet and a file descriptor, not a process.
WORKER_CONNECTIONS = 1000
# A question of 1,000 characters of a 4-byte script is 12 kB percent-encoded, and a link to an
# article with it holds its id (up to 1,000 characters) too: past gunicorn's largest limit
# (8,190 bytes), which is raised for this.
REQUEST_LINE_LIMIT = 64 * 1024
# On SIGTERM a worker stops taking connections, finishes the searches under way (milliseconds)
# and drops the connections that are still sending or idle: this long at most.
GRACEFUL_SECONDS = 3
# Each process holds its own model and index arrays (two workers and their master 520-560 MB
# under load for 32,692 articles: docs/history, "The union"); four keep a laptop's in hand.
MAX_DEFAULT_WORKERS = 4
# glibc's malloc (2.35 on; others ignore it) backs large blocks with transparent huge pages: the
# model's weights read by every question take a few TLB entries, not thousands (2.5% less CPU a
# search: docs/history, "The union"). A GLIBC_TUNABLES that sets it itself is kept.
HUGE_PAGES = "glibc.malloc.hugetlb=1"


def client_timeout() -> float:
    """Seconds a client has (NEWS_SEARCH_CLIENT_TIMEOUT); a ClickException if it is not a
    positive number."""
    text = os.environ.get(CLIENT_TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_CLIENT_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds < float("inf"):
        raise click.ClickException(f"{CLIENT_TIMEOUT_ENV} must be a number of seconds above 0, "
                                   f"got {text!r}")
    return seconds


def answer_as(host: str, names: tuple[str, ...]) -> str:
    """The host names a server answers as (security.py), comma-separated: the loopback
    names, the address it listens on, and those given (--name, else the environment's)."""
    given = list(names) or os.environ.get("NEWS_SEARCH_SERVER_NAMES", "").split(",")
    every = [*LOOPBACK_NAMES, *([] if host in ("0.0.0.0", "::", "") else [host]), *given]
    if host in ("0.0.0.0", "::") and not any(n.strip() for n in given):
        click.echo("Listening on every address, answering only as "
                   f"{', '.join(LOOPBACK_NAMES)}: give --name HOST for each name others use "
                   "to reach this server", err=True)
    return ",".join(dict.fromkeys(n.strip() for n in every if n.strip()))


def default_workers() -> int:
    """One worker process a core, at most MAX_DEFAULT_WORKERS."""
    return min(MAX_DEFAULT_WORKERS, os.cpu_count() or 1)


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on host:port, or a ClickException saying what to change."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                    flags=socket.AI_PASSIVE)[0][0]
        return socket.create_server((host, port), family=family, backlog=1024)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
                                   "choose another --port or --host") from None


def worker_environment(environ: dict[str, str]) -> dict[str, str]:
    """environ with HUGE_PAGES added to its GLIBC_TUNABLES (read when a process starts), unless
    they set glibc.malloc.hugetlb already."""
    tunables = environ.get("GLIBC_TUNABLES", "")
    if "glibc.malloc.hugetlb" in tunables:
        return dict(environ)
    return {**environ, "GLIBC_TUNABLES": f"{tunables}:{HUGE_PAGES}" if tunables else HUGE_PAGES}


def server_url(host: str, port: int) -> str:
    """The address a browser opens: an IPv6 host in brackets ("http://[::1]:8000/")."""
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def ready_line(started: float, url: str, how: str) -> str:
    return (f"Ready in {time.time() - started:.1f} s: search at {url} (JSON API at "
            f"/api/search?q=...); {how}; Ctrl-C stops")


def warm_app(index_dir: Path, model: str, embedder=None):  # noqa: ANN001, ANN201 - Flask's
    """The app over index_dir with its index and model loaded: the first request is not slow.
    embedder: the model loaded already (shared_embedder), if it is."""
    from . import create_app, get_searcher

    app = create_app({"INDEX_DIR": str(index_dir), "MODEL": model, "EMBEDDER": embedder})
    with app.app_context():
        get_searcher().search("warm up", 1)
    return app


def shared_embedder(index_dir: Path, model: str):  # noqa: ANN201 - an Embedder, or None
    """The model with its int8 questions' graph loaded (for an int8 index, the default), in the
    server's first process, so that the workers forked from it share the graph's memory (40 MB
    less for two workers over NewsArticles) instead of each loading its own; None where that
    graph is not made yet, or the model does not load (each worker then loads it, and says why
    it fails). ONNX Runtime runs each question on the calling thread; the tokenizer would start
    a pool of threads for its batches, which a fork loses: it tokenizes on the calling thread
    too."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from indexer import Embedder
    from indexer.embedding.embedder import resolve_model
    from indexer.embedding.onnx_query import onnx_used, question_graph_cached
    from indexer.storage.indexdir import served_build
    from indexer.storage.manifest import Manifest

    try:
        path = resolve_model(model)
        # Only a graph that loads without torch (whose threads a fork would lose too).
        if Manifest.read(served_build(index_dir)).precision != "int8" \
                or not (onnx_used(path) and question_graph_cached(path)):
            return None
        embedder = Embedder(model)
        embedder.encode_query("warm up", "int8")
    except Exception:  # noqa: BLE001 - the workers load it again and report the failure
        return None
    return embedder


def prepare_questions(index_dir: Path, model: str, precision: str | None = None) -> None:
    """Make the model's int8 graph for questions if the served index is int8 and the graph is
    not cached yet: done here, before the worker processes start, or each would make its own."""
    from indexer import Embedder
    from indexer.storage.indexdir import served_build
    from indexer.storage.manifest import Manifest

    if (precision or Manifest.read(served_build(index_dir)).precision) != "int8":
        return
    embedder = Embedder(model)
    if not embedder.questions_prepared():
        click.echo("Making the model's int8 graph for questions (once, about 20 s)", err=True)
        embedder.prepare_questions()


def error_response(status: int, reason: str, message: str) -> bytes:
    """A whole HTTP response in the API's error shape, with the app's headers: for errors the
    server finds before a request reaches the app (a request line too long, say)."""
    from .security import HEADERS, NO_STORE

    body = orjson.dumps({"error": {"status": status, "message": message}}) + b"\n"
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body)),
               "Cache-Control": NO_STORE, "Connection": "close", **HEADERS}
    head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode("latin-1") + b"\r\n" + body


def serve_processes(listener: socket.socket, workers: int, index_dir: Path, model: str,
                    started: float, url: str) -> None:
    """Serve with `workers` gunicorn processes on listener; does not return.

    This process becomes gunicorn's master by exec: the workers are forked from a fresh
    interpreter, not from one that has run ONNX Runtime, OpenMP or a build's threads (a child
    forked from such a process could hang on locks held by threads it does not have), and one
    started with HUGE_PAGES.
    """
    os.set_inheritable(listener.fileno(), True)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "webapp.serving", str(listener.fileno()),
                               str(workers), str(index_dir), model, repr(started), url],
              worker_environment(dict(os.environ)))


def _worker_class(deadline: float):  # noqa: ANN202 - a gunicorn worker class
    """gunicorn's gevent worker with each request under a total deadline (imported in the
    gunicorn process only)."""
    import gevent
    from gevent import monkey
    from gevent import socket as green_socket
    from gunicorn import util
    from gunicorn.http import message
    from gunicorn.workers.ggevent import GeventWorker

    class Worker(GeventWorker):
        """gunicorn's gevent worker: each connection a greenlet, with a total deadline on each
        request, and the server's own errors in the API's shape."""

        def patch(self) -> None:
            # Threads stay threads: the index's database connections are kept one a thread,
            # and would otherwise be opened anew for every request's greenlet.
            monkey.patch_all(thread=False)
            self.sockets = [green_socket.socket(s.FAMILY, socket.SOCK_STREAM,
                                                 fileno=s.sock.detach()) for s in self.sockets]
            message.MAX_REQUEST_LINE = max(message.MAX_REQUEST_LINE, REQUEST_LINE_LIMIT)
            # gunicorn writes a request it cannot parse an HTML error page, bare.
            util.write_error = lambda sock, status, reason, message: util.write_nonblock(
                sock, error_response(status, reason, f"{reason}: {message}" if message else reason))

        def timeout_ctx(self):  # noqa: ANN202 - around reading each request, line to headers
            return gevent.Timeout(deadline, False)

        def handle(self, listener, client, addr) -> None:  # noqa: ANN001
            client.settimeout(deadline)  # each send of the answer
            super(GeventWorker, self).handle(listener, client, addr)

        def handle_request(self, listener_name, req, sock, addr):  # noqa: ANN001, ANN201
            # One request a connection, so the next goes to whichever worker is free: kept
            # alive, a busy client held its worker (p99 900 ms: docs/history, "Answers on top").
            req.force_close()
            return super().handle_request(listener_name, req, sock, addr)

    return Worker


def _gunicorn_main(fd: int, workers: int, index_dir: Path, model: str, started: float,
                   url: str) -> None:
    deadline = client_timeout()  # checked by `serve` before it came here
    from gunicorn.app.base import BaseApplication
    from gunicorn.errors import HaltServer

    Worker = _worker_class(deadline)  # noqa: N806 - a class
    boot: dict[str, str] = {}  # in a worker: why its index did not load, if it did not
    shared = shared_embedder(index_dir, model)

    def post_worker_init(worker) -> None:  # noqa: ANN001
        if "error" in boot and worker.age <= workers:  # the server's start: stop it, clearly
            click.echo(f"Error: {boot['error']}", err=True)
            sys.exit(3)  # gunicorn's "worker failed to boot": the server stops
        if worker.age == 1:  # the first worker to start says when the server answers
            how = f"{workers} worker process{'es' if workers > 1 else ''}"
            click.echo(ready_line(started, url, how), err=True)

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in {
                "bind": [f"fd://{fd}"], "workers": workers, "worker_class": Worker,
                # keepalive > 0 makes gunicorn read each request under timeout_ctx (its deadline);
                # connections close after one request all the same (handle_request).
                "worker_connections": WORKER_CONNECTIONS, "keepalive": math.ceil(deadline),
                "limit_request_line": REQUEST_LINE_LIMIT,
                # A worker silent this long is stuck and is replaced; a search takes
                # milliseconds, explaining a page by meaning a fraction of a second.
                "timeout": 120, "graceful_timeout": GRACEFUL_SECONDS, "loglevel": "warning",
                "proc_name": "news-search", "post_worker_init": post_worker_init,
            }.items():
                self.cfg.set(key, value)

        def load(self):  # noqa: ANN202 - in each worker, after the fork
            from indexer import ArchiveError, IndexerError

            from . import create_app

            try:
                return warm_app(index_dir, model, shared)
            except (IndexerError, ArchiveError) as exc:  # no build of the index loads
                # A worker restarted while the server runs still serves: 503s that say why,
                # until a build loads. At the server's start, post_worker_init stops it.
                boot["error"] = str(exc)
                return create_app({"INDEX_DIR": str(index_dir), "MODEL": model})

    try:
        Server().run()
    except HaltServer as exc:  # two workers failing at once make gunicorn raise this twice
        sys.exit(exc.exit_status)


if __name__ == "__main__":
    _fd, _workers, _index_dir, _model, _started, _url = sys.argv[1:]
    _gunicorn_main(int(_fd), int(_workers), Path(_index_dir), _model, float(_started), _url)
