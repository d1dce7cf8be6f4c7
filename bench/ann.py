"""Approximate vector search at scale: ivf-sq8 against exact (flat) search on real embeddings.

Usage: python bench/ann.py --index-dir DIR [--index-dir DIR2 ...] [--total 1000000]
       [--queries FILE.jsonl ...] [--n-queries 1000] [--cells 1024,2048] [--nprobe 64,128,256,512]

The passage vectors of the given indexes (real all-MiniLM-L6-v2 embeddings) are searched as they are
(--total 0), sampled down to --total, or grown to it by perturbed copies: each copy is a stored
vector plus Gaussian noise, renormalised (mean cosine to its original is printed). Queries are real:
up to --n-queries drawn at random from each FILE.jsonl (an article's "title", else "text": a BEIR
queries file or an archive's headlines; default: the shared title2body eval queries), embedded by
the packaged model. Exact top-10 comes from a flat index over the float vectors; recall@10 is the
share of it that ivf-sq8 finds, for each query file. Latency is one query at a time on one thread,
FAISS alone, median and p99 over all the queries. Memory is the serialized index's bytes per passage
(codes, ids and the id map), as loaded. --cells defaults to what `news-search index`
builds for that many passages."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.search_latency import machine  # noqa: E402
from indexer import Embedder  # noqa: E402
from indexer.storage.manifest import Manifest  # noqa: E402
from indexer.storage.indexdir import current_build  # noqa: E402
from indexer.storage.vectors import IVF_SQ8, FaissStore, cells_for  # noqa: E402

DEFAULT_QUERIES = (Path(__file__).resolve().parents[2] / "shared" / "eval"
                   / "newsarticles_title2body" / "queries.jsonl")
NOISE = 0.03  # per dimension: a copy keeps a cosine of about 0.87 to its original


def real_vectors(index_dirs: list[Path]) -> np.ndarray:
    out = []
    for folder in index_dirs:
        build = current_build(folder)
        store = FaissStore.load(build, Manifest.read(build, upgrading=True).dimension)
        out.append(store.vectors(np.sort(store.ids())))
    return np.concatenate(out)


def grown(base: np.ndarray, total: int, seed: int = 0) -> tuple[np.ndarray, float]:
    rng = np.random.default_rng(seed)
    if total <= 0 or total == len(base):
        return base, 1.0
    if total < len(base):  # a random sample of the real vectors
        return base[np.sort(rng.permutation(len(base))[:total])], 1.0
    out = np.empty((total, base.shape[1]), dtype=np.float32)
    out[:len(base)] = base
    cosines = []
    for start in range(len(base), total, 100_000):
        n = min(100_000, total - start)
        src = base[rng.integers(0, len(base), n)]
        x = src + NOISE * rng.standard_normal(src.shape, dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        cosines.append(float(np.mean(np.sum(x * src, axis=1))))
        out[start:start + n] = x
    return out, statistics.fmean(cosines) if cosines else 1.0


def timed_search(store: FaissStore, queries: np.ndarray, k: int = 10) -> tuple[np.ndarray, list]:
    found, times = [], []
    for q in queries:
        started = time.perf_counter()
        _, ids = store.search(q[None, :], k)
        times.append((time.perf_counter() - started) * 1000)
        found.append(ids[0])
    return np.array(found), times


def size_on_disk(store: FaissStore) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        store.save(Path(tmp))
        return sum(f.stat().st_size for f in Path(tmp).iterdir())


def query_texts(path: Path, n: int, seed: int = 0) -> list[str]:
    records = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    texts = [t for t in (r.get("title") or r.get("text") for r in records) if t]
    if len(texts) > n:
        texts = [texts[i] for i in np.sort(np.random.default_rng(seed).permutation(len(texts))[:n])]
    return texts


def question_sets(index_dir: Path, paths: list[Path], n: int) -> dict[str, np.ndarray]:
    """Each query file's first n questions embedded, by the file's name."""
    # Questions are embedded as the server embeds them over this index: int8 over int8 passages.
    precision = Manifest.read(current_build(index_dir), upgrading=True).precision
    embedder = Embedder()
    print(f"passages: {precision}; questions embedded as the server would over them", flush=True)
    sets = {}
    for path in paths:
        name = path.parent.name if path.name == "queries.jsonl" else path.stem
        sets[name] = np.concatenate([embedder.encode_query(text, precision)
                                     for text in query_texts(path, n)])
        print(f"queries {name}: {len(sets[name])} from {path}", flush=True)
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, action="append", required=True)
    parser.add_argument("--total", type=int, default=1_000_000)
    parser.add_argument("--queries", type=Path, action="append")
    parser.add_argument("--n-queries", type=int, default=1000)
    parser.add_argument("--cells", default="")
    parser.add_argument("--nprobe", default="64,128,256,512")
    args = parser.parse_args()
    print(f"# {' '.join(sys.argv)}\n# {machine()}, faiss {faiss.__version__}", flush=True)

    base = real_vectors(args.index_dir)
    vectors, cosine = grown(base, args.total)
    ids = np.arange(len(vectors), dtype=np.int64)
    if len(vectors) > len(base):
        print(f"{len(base):,} real passage vectors grown to {len(vectors):,} (copies keep a mean "
              f"cosine of {cosine:.3f} to their original)", flush=True)
    else:
        print(f"{len(vectors):,} real passage vectors (of {len(base):,}), no copies", flush=True)
    sets = question_sets(args.index_dir[0], args.queries or [DEFAULT_QUERIES], args.n_queries)
    queries = np.concatenate(list(sets.values()))
    faiss.omp_set_num_threads(1)

    flat = FaissStore(vectors.shape[1])
    flat.add(vectors, ids)
    flat_bytes = size_on_disk(flat)
    faiss.omp_set_num_threads(2)
    _, exact = flat.index.search(queries, 10)  # batched: the ground truth
    faiss.omp_set_num_threads(1)
    _, flat_times = timed_search(flat, queries[:100])
    print(f"flat: {flat_bytes / len(ids):.0f} bytes/passage, single query median "
          f"{statistics.median(flat_times):.1f} ms (100 queries, 1 thread)", flush=True)

    for cells in [int(c) for c in args.cells.split(",") if c] or [cells_for(len(ids))]:
        faiss.omp_set_num_threads(2)
        started = time.perf_counter()
        ivf = flat.converted(IVF_SQ8, cells=cells)
        build_s = time.perf_counter() - started
        faiss.omp_set_num_threads(1)
        ivf_bytes = size_on_disk(ivf)
        print(f"\nivf-sq8: {cells} cells, built (train + add) in {build_s:.0f} s on 2 threads, "
              f"{ivf_bytes / len(ids):.0f} bytes/passage", flush=True)
        print(f"| nprobe | {' | '.join(f'recall@10 {name}' for name in sets)} | median ms | "
              f"p99 ms |\n|{' --- |' * (len(sets) + 3)}")
        for nprobe in map(int, args.nprobe.split(",")):
            if nprobe > cells:
                continue
            ivf.index.nprobe = nprobe
            found, times = timed_search(ivf, queries)
            hits = np.array([len(set(a) & set(b)) / 10 for a, b in zip(exact, found)])
            bounds = np.cumsum([0] + [len(q) for q in sets.values()])
            recalls = [hits[a:b].mean() for a, b in zip(bounds, bounds[1:])]
            times.sort()
            print(f"| {nprobe} | {' | '.join(f'{r:.3f}' for r in recalls)} | "
                  f"{statistics.median(times):.2f} | {times[int(len(times) * 0.99) - 1]:.2f} |",
                  flush=True)
        del ivf


if __name__ == "__main__":
    main()
