"""Searches through Milvus (a milvus-lite server on a loopback port) beside the local index, in
one run: the Milvus calls each search makes, latency, and whether the answers agree.

Usage: python bench/milvus_search.py [--articles 600] [--questions 60] [--rounds 3]
           [--archive ../shared/data/newsarticles.jsonl] [--servers python,cpp] [--index-dir IX]

Builds the archive's first ARTICLES articles into a local index (flat, as `index --backend
milvus://` does), copies it into a fresh milvus-lite server of each kind in turn (python:
milvus-lite 3, the cluster extra's; cpp: milvus-lite 2.5.1, Milvus' C++ engine, fetched by
tests/helpers.py) (the copy's rate is printed), then
asks QUESTIONS headlines of those articles (hybrid, k=10, a new question each time: no cache
helps) of the local index and of Milvus in turn, ROUNDS times, and prints: Milvus calls a search
(every client call counted: search, query, query iterators), p50 and p90 of both at one client,
their ratio, and for how many questions the top 10 and the count of stories that match are the
same. Machine noise: compare only figures of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bench.load import _cpu_s  # noqa: E402
from bench.search_latency import machine  # noqa: E402
from helpers import MILVUS_SERVERS, free_port, start_milvus, stop_milvus  # noqa: E402
from indexer import Searcher, build_index  # noqa: E402
from indexer.retrieval.milvus import columns  # noqa: E402
from indexer.retrieval.milvus.client import MilvusAddress  # noqa: E402
from indexer.retrieval.milvus.upload import upload  # noqa: E402
from indexer.storage.indexdir import current_build  # noqa: E402

CALLS = ("search", "query", "query_iterator", "hybrid_search", "get", "describe_collection",
         "describe_alias", "load_collection")


def counted(client, tally: Counter, spent: Counter) -> None:  # noqa: ANN001 - a MilvusClient
    """Count every call of the client's methods in tally, and its milliseconds in spent, by
    what it was (a search by its field), and the searches and queries read by columns."""
    def timed(method, name: str, what: str, *args, **kwargs):  # noqa: ANN001, ANN202
        tally[name] += 1
        started = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            spent[what] += (time.perf_counter() - started) * 1000

    for name in CALLS:
        method = getattr(client, name)

        def wrapper(*args, _method=method, _name=name, **kwargs):
            collection = args[0].split("__")[-1] if args else ""
            return timed(_method, _name, f"{_name}:{kwargs.get('anns_field', '')}{collection}",
                         *args, **kwargs)
        setattr(client, name, wrapper)
    searching, querying = columns.search, columns.query

    def searched(asked, collection: str, data: list, field: str, *args, **kwargs):  # noqa: ANN001, ANN202
        if asked is not client:
            return searching(asked, collection, data, field, *args, **kwargs)
        return timed(searching, "search", f"search:{field}{collection.split('__')[-1]}",
                     asked, collection, data, field, *args, **kwargs)

    def queried(asked, collection: str, *args, **kwargs):  # noqa: ANN001, ANN202
        if asked is not client:
            return querying(asked, collection, *args, **kwargs)
        return timed(querying, "query", f"query:{collection.split('__')[-1]}", asked,
                     collection, *args, **kwargs)
    columns.search, columns.query = searched, queried


def row_bytes(rows: list[dict]) -> float:
    """The mean bytes a row's fields hold as written (vectors as float32, integers 8 B, text
    as UTF-8); what Milvus computes (the BM25 sparse vectors) not counted."""
    def size(value) -> int:  # noqa: ANN001
        if isinstance(value, str):
            return len(value.encode())
        if isinstance(value, list):
            return 4 * len(value)
        return 8
    return sum(sum(size(v) for v in row.values()) for row in rows) / max(1, len(rows))


def rows_measured(folder: Path) -> str:
    """The mean bytes of a passage's row and an article's (with its text's rows)."""
    from indexer.retrieval.local import LocalBuild
    from indexer.retrieval.milvus.rows import Rows
    from indexer.storage.manifest import Manifest

    rows = Rows(LocalBuild(folder, Manifest.read(folder).model))
    passages = [row for block, _ in rows.passage_blocks() for row in block]
    articles, texts = rows.article_rows(rows.articles)
    by_field = {k: sum(len(str(r[k]).encode()) if isinstance(r[k], str) else 8
                       for r in passages) / len(passages) for k in ("text", "terms", "title")}
    text = row_bytes(texts) * len(texts) / len(articles)
    return (f"row bytes: a passage {row_bytes(passages):.0f} (its vector "
            f"{4 * len(passages[0]['vector'])}, text {by_field['text']:.0f}, terms "
            f"{by_field['terms']:.0f}, headline {by_field['title']:.0f}); an article "
            f"{row_bytes(articles):.0f} and its text {text:.0f}"
            f"; {len(passages) / len(articles):.1f} passages an article")


def report(times: dict[str, list[float]], calls: list[int], tally: Counter, spent: Counter
           ) -> None:
    """Print the latencies, their ratio and the calls made."""
    q = lambda xs, p: statistics.quantiles(xs, n=100)[p - 1]  # noqa: E731
    for name, found in times.items():
        print(f"{name}: p50 {q(found, 50):.1f} ms, p90 {q(found, 90):.1f} ms "
              f"({len(found)} searches)")
    print(f"Milvus / local p50: {q(times['milvus'], 50) / q(times['local'], 50):.1f}x")
    print(f"Milvus calls a search: median {statistics.median(calls):.0f}, max {max(calls)}; "
          f"by kind over all: {dict(tally)}")
    print("ms a search in Milvus calls, by kind: " + ", ".join(
        f"{k} {v / len(calls):.1f}" for k, v in spent.most_common()))


def searched(server: str, work: Path, index: Path, questions: list[str], rounds: int) -> None:
    """Copy the build into a fresh milvus-lite server of that kind and ask the questions of it
    and of the local index in turn; print what report() prints and whether they agree."""
    port = free_port()
    proc = start_milvus(work / f"milvus-{server}", port, server)
    try:
        address = f"milvus://127.0.0.1:{port}/bench"
        started = time.perf_counter()
        upload(current_build(index), MilvusAddress.parse(address))
        copy = time.perf_counter() - started
        local = Searcher(index)
        remote = Searcher(index, backend=address)
        print(f"== milvus-lite {server}: {local.manifest.passages} passages copied in {copy:.1f} s "
              f"({local.manifest.passages / copy:.0f} passages/s)")
        tally, spent = Counter(), Counter()
        counted(remote._backend.client, tally, spent)
        times: dict[str, list[float]] = {"local": [], "milvus": []}
        calls, same_top, same_count = [], 0, 0
        server_cpu = 0.0
        for round_ in range(rounds):
            for question in questions:
                asked = f"{question} {'?' * (round_ + 1)}"  # a new question: no cache helps
                first = None  # the local index's result
                for name, searcher in (("local", local), ("milvus", remote)):
                    before, cpu = sum(tally.values()), _cpu_s(proc.pid)
                    started = time.perf_counter()
                    result = searcher.search(asked, 10)
                    times[name].append((time.perf_counter() - started) * 1000)
                    server_cpu += (_cpu_s(proc.pid) - cpu) * (name == "milvus")
                    if name == "milvus":
                        calls.append(sum(tally.values()) - before)
                        if round_ == 0:
                            same_top += [h.article.id for h in result.hits] == \
                                [h.article.id for h in first.hits]
                            same_count += result.matching == first.matching
                    first = first or result
        report(times, calls, tally, spent)
        print(f"the server's CPU a search: {server_cpu * 1000 / len(calls):.1f} ms (/proc, "
              f"in ticks of {1000 / os.sysconf('SC_CLK_TCK'):.0f} ms)")
        print(f"same top 10: {same_top} of {len(questions)}; same count of stories that match: "
              f"{same_count} of {len(questions)}")
    finally:
        stop_milvus(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", default="../shared/data/newsarticles.jsonl")
    parser.add_argument("--articles", type=int, default=600)
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--servers", default=",".join(MILVUS_SERVERS),
                        help="milvus-lite servers to ask, in turn (tests/helpers.py)")
    parser.add_argument("--index-dir", type=Path, default=None,
                        help="a flat index of the archive's first ARTICLES, built already")
    args = parser.parse_args()
    print(machine())
    work = Path(tempfile.mkdtemp(prefix="milvus-bench-"))
    try:
        lines = Path(args.archive).read_text().splitlines()[:args.articles]
        (work / "archive.jsonl").write_text("\n".join(lines) + "\n")
        titles = [t for t in (json.loads(line).get("title", "") for line in lines) if t.strip()]
        questions = titles[:: max(1, len(titles) // args.questions)][:args.questions]
        index = args.index_dir or work / "ix"
        if args.index_dir is None:
            build_index([work / "archive.jsonl"], index, store_kind="flat")
        print(rows_measured(current_build(index)))
        for server in args.servers.split(","):
            searched(server, work, index, questions, args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # its archive, index and Milvus data


if __name__ == "__main__":
    main()
