"""Peak memory of `news-search index` on archives made to exhaust it.

Usage: python bench/hostile_memory.py [--scale 1.0] [--only NAME ...] [--root CHECKOUT]

Writes each input into a temporary folder at its full size (--scale shrinks them all), runs
`news-search index FILE --index-dir TMP` on it as a new process, and prints its peak resident
memory (the kernel's high-water mark of the process, ru_maxrss), its time, and what the build
said it skipped. --root runs another checkout's code on the same inputs, to compare. Each
archive is a folder of the input and one ordinary article, so every build has one to index.

The inputs:
  baseline         none: the build of the ordinary article alone
  zeros.jsonl.gz   3 GB of NUL bytes, gzip-compressed (about 3 MB on disk)
  repeated.jsonl   1.5 GB of one JSON line repeated (5 million duplicates of one article)
  longline.jsonl   one JSON line of 500 MB (an article's text)
  bigfield.csv     a CSV with one field of 200 MB
  atlimit.json     a JSON file of 250 MB, read whole (just under --max-file-size)
  overlimit.json   a JSON file of 1 GB
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from search_latency import machine  # noqa: E402

MB = 1024 * 1024
GOOD = {"id": "good", "title": "Harbour ferry resumes service",
        "text": "The ferry runs again after three weeks of repairs to its engines."}


def _fill(f, unit: bytes, size: int) -> None:  # noqa: ANN001 - a file open for writing
    """size bytes of unit repeated, written 16 MB at a time."""
    block = unit * max(1, 16 * MB // len(unit))
    for _ in range(size // len(block)):
        f.write(block)
    f.write(unit * ((size % len(block)) // len(unit)))


def make_zeros(path: Path, size: int) -> None:
    with gzip.open(path, "wb", compresslevel=6) as f:
        _fill(f, b"\0", size)


def make_repeated(path: Path, size: int) -> None:
    line = json.dumps({"title": "Same story again", "text": "Again and again. " * 15}) + "\n"
    with open(path, "wb") as f:
        _fill(f, line.encode(), size)


def make_long_line(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        f.write(b'{"title": "One huge line", "text": "')
        _fill(f, b"word ", size)
        f.write(b'"}\n')


def make_json(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        f.write(b'{"title": "One huge JSON file", "text": "')
        _fill(f, b"word ", size)
        f.write(b'"}')


def make_big_field(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        f.write(b"id,title,text\nbig,One huge field,")
        _fill(f, b"word ", size)
        f.write(b"\n")


def make_nothing(path: Path, size: int) -> None:  # noqa: ARG001
    """No input: the build of the ordinary article alone, the baseline."""


INPUTS = {  # name: (maker, full size in bytes)
    "baseline": (make_nothing, 0),  # what any build takes: the model and its runtimes
    "zeros.jsonl.gz": (make_zeros, 3 * 1024 * MB),
    "repeated.jsonl": (make_repeated, 1536 * MB),
    "longline.jsonl": (make_long_line, 500 * MB),
    "bigfield.csv": (make_big_field, 200 * MB),
    "atlimit.json": (make_json, 250 * MB),  # read whole: just under --max-file-size
    "overlimit.json": (make_json, 1024 * MB),
}


def index_peak(root: Path, archive: Path, index_dir: Path) -> tuple[float, float, str]:
    """(peak resident MB, seconds, its last lines) of one `news-search index` run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "webapp.cli", "index", str(archive),
                           "--index-dir", str(index_dir)], cwd=root, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(root)})
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # kB, the largest child yet
    said = [line for line in (done.stdout + done.stderr).splitlines()
            if line.startswith(("Read ", "  skipped", "Error"))]
    if peak <= before:
        return float("nan"), seconds, " / ".join(said)  # an earlier child was larger
    return peak / 1024, seconds, " / ".join(said)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="input sizes times this")
    parser.add_argument("--only", nargs="*", choices=sorted(INPUTS), help="these inputs only")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose code runs")
    args = parser.parse_args()
    print(f"command: python {' '.join(sys.argv)}")
    print(f"machine: {machine()}; code: {args.root}")
    print("| input | size | peak memory | time | what the build said |")
    print("| --- | --- | --- | --- | --- |")
    # The largest input last, and each in a process of its own, but the kernel's high-water
    # mark of children only grows: each run is measured in a fresh child of its own.
    for name in args.only or INPUTS:
        maker, size = INPUTS[name]
        size = int(size * args.scale)
        with tempfile.TemporaryDirectory() as tmp:
            archive = Path(tmp) / "archive"
            archive.mkdir()
            (archive / "good.json").write_text(json.dumps(GOOD))
            maker(archive / name, size)
            peak, seconds, said = _isolated(args.root, archive, Path(tmp) / "index")
            print(f"| {name} | {size / MB:,.0f} MB | {peak:,.0f} MB | {seconds:.0f} s | "
                  f"{said[:300]} |", flush=True)


def _isolated(root: Path, archive: Path, index_dir: Path) -> tuple[float, float, str]:
    """index_peak in a child process of its own, so that its high-water mark is its own."""
    code = ("import json, sys; sys.path.insert(0, %r); from hostile_memory import index_peak; "
            "print(json.dumps(index_peak(*map(__import__('pathlib').Path, sys.argv[1:]))))"
            % str(Path(__file__).resolve().parent))
    out = subprocess.run([sys.executable, "-c", code, str(root), str(archive), str(index_dir)],
                         capture_output=True, text=True, check=True).stdout
    return tuple(json.loads(out.strip().splitlines()[-1]))


if __name__ == "__main__":
    main()
