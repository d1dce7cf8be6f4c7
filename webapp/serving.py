"""How `news-search serve` answers HTTP: several processes (gunicorn), or threads (waitress).

A search is CPU work in Python, numpy, FAISS and ONNX Runtime. Threads of one process share one
interpreter lock, so two threads on two cores answered 1.4 searches for every one a single thread
answers; two processes answer two (BENCHMARKS.md, Serving). So where gunicorn runs (Linux,
macOS) the default is one worker process a core, each with its own copy of the index and the
model, each answering one request at a time: a free worker takes the next connection, a busy
one takes none. Elsewhere (Windows), or with `--workers 1`, waitress serves with threads.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

import click

# A client has this long to send its request and take the answer; one that stalls is dropped
# instead of holding a worker (waitress reads requests apart from its threads: no such limit).
CLIENT_TIMEOUT_ENV, DEFAULT_CLIENT_TIMEOUT = "NEWS_SEARCH_CLIENT_TIMEOUT", 30.0
# Processes share the mapped index files, and each holds its own model and index arrays: two
# workers and their master take about 420 MB (proportional set size) once started and 520-560
# MB under load for the 32,692-article union, 250 MB for the seed index. Four keep a laptop's
# memory in hand.
MAX_DEFAULT_WORKERS = 4
# glibc's malloc (2.35 and later; other C libraries ignore it) is asked to back its large blocks
# with transparent huge pages where the kernel allows them ("madvise" or "always"): the
# quantised model's weights, about 10 MB read by every question, then take a few TLB entries
# instead of thousands. 2.5% less server CPU a search here (lower in 7 rounds of 8, two servers
# loaded at once: BENCHMARKS.md), for 20 to 30 MB more memory (PSS, union). A GLIBC_TUNABLES
# that sets glibc.malloc.hugetlb itself is kept.
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


def can_fork_workers() -> bool:
    """Whether gunicorn can run here (it needs fork and fcntl: not on Windows)."""
    try:
        import gunicorn  # noqa: F401
        import fcntl  # noqa: F401
    except ImportError:
        return False
    return True


def default_workers() -> int:
    """One worker process a core, at most MAX_DEFAULT_WORKERS; 1 where gunicorn cannot run."""
    return min(MAX_DEFAULT_WORKERS, os.cpu_count() or 1) if can_fork_workers() else 1


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


def ready_line(started: float, url: str, how: str) -> str:
    return (f"Ready in {time.time() - started:.1f} s: search at {url} (JSON API at "
            f"/api/search?q=...); {how}; Ctrl-C stops")


def warm_app(index_dir: Path, model: str):  # noqa: ANN201 - a Flask app
    """The app over index_dir with its index and model loaded: the first request is not slow."""
    from . import create_app, get_searcher

    app = create_app({"INDEX_DIR": str(index_dir), "MODEL": model})
    with app.app_context():
        get_searcher().search("warm up", 1)
    return app


def prepare_questions(index_dir: Path, model: str) -> None:
    """Make the model's int8 graph for questions if the served index is int8 and the graph is
    not cached yet: done here, before the worker processes start, or each would make its own."""
    from indexer import Embedder
    from indexer.indexdir import current_build
    from indexer.manifest import Manifest

    if Manifest.read(current_build(index_dir)).precision != "int8":
        return
    embedder = Embedder(model)
    if not embedder.questions_prepared():
        click.echo("Making the model's int8 graph for questions (once, about 20 s)", err=True)
        embedder.prepare_questions()


def close_answered(client: socket.socket) -> None:
    """Close a connection whose request was read whole and answered: end of file sent, what the
    client may have sent since (a pipelined request) read and dropped, no wait for its close."""
    try:
        client.shutdown(socket.SHUT_WR)
        client.setblocking(False)
        while client.recv(65536):
            pass
    except OSError:  # nothing more has come (BlockingIOError), or the client is gone
        pass
    client.close()


def serve_threads(app, listener: socket.socket, threads: int, started: float,  # noqa: ANN001
                  url: str) -> None:
    """Serve app on listener with waitress, `threads` requests at a time, until interrupted."""
    import waitress

    click.echo(ready_line(started, url, f"1 process, {threads} threads"), err=True)
    waitress.serve(app, sockets=[listener], threads=threads, ident="news-search", _quiet=True)


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


def _gunicorn_main(fd: int, workers: int, index_dir: Path, model: str, started: float,
                   url: str) -> None:
    deadline = client_timeout()  # checked by `serve` before it came here
    from gunicorn import util
    from gunicorn.app.base import BaseApplication
    from gunicorn.errors import HaltServer
    from gunicorn.workers.sync import SyncWorker

    class Worker(SyncWorker):
        """gunicorn's sync worker, with a deadline on each client's socket, and a connection
        closed as soon as it is answered when its request had no body."""

        def accept(self, listener) -> None:  # noqa: ANN001
            client, addr = listener.accept()
            client.settimeout(deadline)
            util.close_on_exec(client)
            self.handle(listener, client, addr)

        def handle_request(self, listener, req, client, addr) -> None:  # noqa: ANN001
            super().handle_request(listener, req, client, addr)
            # gunicorn then closes by waiting, up to 2 s, for the client to close first, so
            # that unread request bytes cannot reset the connection under the answer's tail.
            # A worker would wait a network round trip each request: with 8 clients that
            # closed 20 ms after their answer, 70 searches a second instead of 245
            # (BENCHMARKS.md). With nothing left unread, there is nothing to wait for
            # (gunicorn's own close then finds the socket closed).
            if not any(name in ("CONTENT-LENGTH", "TRANSFER-ENCODING") and value.strip() != "0"
                       for name, value in req.headers):
                close_answered(client)

    def post_worker_init(worker) -> None:  # noqa: ANN001
        if worker.age == 1:  # the first worker to start says when the server answers
            click.echo(ready_line(started, url, f"{workers} worker processes"), err=True)

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in {
                "bind": [f"fd://{fd}"], "workers": workers, "worker_class": Worker,
                # A worker silent this long is stuck and is replaced; a search takes
                # milliseconds, explaining a page by meaning a fraction of a second.
                "timeout": 120, "graceful_timeout": 10, "loglevel": "warning",
                "proc_name": "news-search", "post_worker_init": post_worker_init,
            }.items():
                self.cfg.set(key, value)

        def load(self):  # noqa: ANN202 - in each worker, after the fork
            from indexer import ArchiveError, IndexerError

            try:
                return warm_app(index_dir, model)
            except (IndexerError, ArchiveError) as exc:  # a damaged index, say
                click.echo(f"Error: {exc}", err=True)
                sys.exit(3)  # gunicorn's "worker failed to boot": the server stops

    try:
        Server().run()
    except HaltServer as exc:  # two workers failing at once make gunicorn raise this twice
        sys.exit(exc.exit_status)


if __name__ == "__main__":
    _fd, _workers, _index_dir, _model, _started, _url = sys.argv[1:]
    _gunicorn_main(int(_fd), int(_workers), Path(_index_dir), _model, float(_started), _url)
