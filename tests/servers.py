"""`news-search serve` as a real process for tests: started on a free port, asked, stopped."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from helpers import free_port, serve, wait_until_up


def start(index: Path, folder: Path, *options: str, env: dict | None = None):
    """A server over index, its log in folder: (process, base URL, port, log, log's path)."""
    port = free_port()
    log_path = folder / f"server-{port}.log"
    log = open(log_path, "w")
    proc = serve(index, port, log, *options, env=env)
    base = f"http://127.0.0.1:{port}"
    wait_until_up(proc, base, log_path)
    return proc, base, port, log, log_path


def stop(proc, log) -> None:
    """Stop the server (SIGTERM) and close its log."""
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=30)
    log.close()


def worker_pids(proc) -> list[int]:
    """The server's worker processes."""
    found = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True)
    return sorted(int(p) for p in found.stdout.split())


def ask(url: str, body: bytes | dict | None = None, headers: dict | None = None,
        method: str | None = None, timeout: float = 60) -> tuple[int, dict, bytes]:
    """(status, headers, body) of a request, errors included; a dict body is sent as JSON."""
    headers = dict(headers or {})
    if isinstance(body, dict):
        body = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()
