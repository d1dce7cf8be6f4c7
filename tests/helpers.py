"""What tests share that is not a fixture: the data folders, and servers and indexes made."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np

from indexer import Embedder, build_index
from indexer.terms import analyse

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
SEEDS = ROOT / "seeds"
ARCHIVE = DATA / "archive"
ALEPPO_QUESTION = "how many rebels were in east Aleppo before the assault?"
# A story an update adds to the archive: a storm at the harbour.
STORM_STORY = ("Storm floods the harbour\n\nA storm surge flooded the harbour on Sunday, sinking "
               "two fishing boats and damaging the ferry terminal, the coast guard said.\n")


def built(tmp_path_factory, embedder: Embedder, name: str, *paths: Path, **options) -> Path:
    """A new folder (named from name) holding an index of paths, built with the shared model;
    options go to build_index."""
    folder = tmp_path_factory.mktemp(name)
    build_index(list(paths), folder, embedder=embedder, **options)
    return folder


class WordsEmbedder:
    """A small deterministic stand-in for the model, for the fast layer's logic tests: a text's
    vector is its stemmed words hashed into 64 signed dimensions, so texts that share words are
    near and nothing is loaded. Tests of what meaning finds use the real model instead."""

    name = "test-words"
    dimension = 64
    max_tokens = 256
    precision = passage_precision = "float32"

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress=None) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            vectors[row, 0] = 1e-3  # an empty text still has a direction
            for word in analyse(text):
                code = zlib.crc32(word.encode())
                vectors[row, code % self.dimension] += 1.0 if code & 1 << 16 else -1.0
        if progress:
            progress(len(texts))
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def encode_query(self, query: str, precision: str = "float32") -> np.ndarray:
        return self.encode([query])

    def encode_few(self, texts: Sequence[str], precision: str = "float32") -> np.ndarray:
        return self.encode(texts)

    def load_passage_model(self) -> None:
        pass

    def questions_prepared(self) -> bool:
        return True

    def prepare_questions(self) -> None:
        pass


def copy_archive(folder: Path) -> Path:
    """A copy of tests/data/archive at folder with seeds/ inside it, for tests that change it."""
    shutil.copytree(ARCHIVE, folder)
    shutil.copytree(SEEDS, folder / "seeds")
    return folder


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(index_dir: Path, port: int, log, *options: str,
          env: dict[str, str] | None = None) -> subprocess.Popen:
    """`news-search serve` as a real process, its output to the open file log; env: variables
    to set for it."""
    return subprocess.Popen(
        [sys.executable, "-m", "webapp.cli", "serve", "--port", str(port),
         "--index-dir", str(index_dir), *options],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, **env} if env else None)


def get(url: str) -> tuple[int, str]:
    """(status, body) of a GET, errors included."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_until_up(proc: subprocess.Popen, base: str, log_path: Path, seconds: float = 120) -> None:
    """Wait until the server at base answers /api/health, or fail with its log."""
    deadline = time.monotonic() + seconds
    while True:
        assert proc.poll() is None, log_path.read_text()
        try:
            if get(base + "/api/health")[0] == 200:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.2)


# The two milvus-lite servers the Milvus backend is tested against: "python", the one the
# cluster extra installs (milvus-lite 3: a Milvus in Python, with HNSW), and "cpp", milvus-lite
# 2.5.1 (Milvus' own C++ engine, FLAT and IVF_FLAT only; no aliases), fetched from PyPI once
# into MILVUS_CPP_CACHE: its wheel may not share a virtual environment with milvus-lite 3.
MILVUS_SERVERS = ("python", "cpp")
MILVUS_CPP = "milvus-lite==2.5.1"
MILVUS_CPP_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) \
    / "news-search" / "milvus-lite-2.5.1"


def milvus_cpp() -> Path:
    """The folder of milvus-lite 2.5.1's server and its libraries, fetched if not cached."""
    lib = MILVUS_CPP_CACHE / "milvus_lite" / "lib"
    if not (lib / "milvus").exists():
        fetched = MILVUS_CPP_CACHE.with_name(MILVUS_CPP_CACHE.name + ".part")
        shutil.rmtree(fetched, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d",
                        str(fetched / "wheel"), MILVUS_CPP], check=True)
        wheel, = (fetched / "wheel").glob("*.whl")
        shutil.unpack_archive(wheel, fetched, format="zip")
        (fetched / "milvus_lite" / "lib" / "milvus").chmod(0o755)
        shutil.rmtree(MILVUS_CPP_CACHE, ignore_errors=True)
        fetched.rename(MILVUS_CPP_CACHE)  # whole, or not there: a fetch cut short is redone
    return lib


def start_milvus(data: Path, port: int, server: str = "python") -> subprocess.Popen:
    """A milvus-lite server (MILVUS_SERVERS) on 127.0.0.1:port, answering once this returns."""
    data.mkdir(parents=True, exist_ok=True)
    if server == "cpp":
        lib = milvus_cpp()
        command = [str(lib / "milvus"), str(data / "milvus.db"), f"127.0.0.1:{port}", "ERROR"]
        env = {**os.environ, "LD_LIBRARY_PATH": str(lib)}
    else:
        command = [str(Path(sys.executable).parent / "milvus-lite"), "server", "--data-dir",
                   str(data), "--host", "127.0.0.1", "--port", str(port)]
        env = None
    proc = subprocess.Popen(command, cwd=data, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, f"milvus-lite server ({server}) exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            assert time.monotonic() < deadline, f"milvus-lite server ({server}) did not start"
            time.sleep(0.2)


def stop_milvus(proc: subprocess.Popen) -> None:
    """Stop a milvus-lite server (SIGTERM, then SIGKILL after 30 s)."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)
