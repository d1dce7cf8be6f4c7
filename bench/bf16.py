"""Embedding in bfloat16: torch's CPU autocast against float32, for speed and vectors.

Usage: python bench/bf16.py [--articles 120] [--corpus FILE.jsonl]

The same passages (the first --articles articles of the shared NewsArticles, chunked as the
indexer does) embedded by the packaged model on torch, batch 32, in float32 and then under
torch.autocast("cpu", dtype=torch.bfloat16); prints both rates and how far the bf16 vectors are
from the float32 ones. Only worth it on a CPU with bf16 instructions (AVX512_BF16 or AMX): on
one without them bf16 runs several times slower.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.indexing import CORPUS, passages  # noqa: E402
from bench.search_latency import machine  # noqa: E402
from indexer import Embedder  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=120)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    print(f"# {' '.join(sys.argv)}\n# {machine()}, torch {torch.__version__}, avx512_bf16 "
          f"{'yes' if 'avx512_bf16' in flags else 'no'}", flush=True)
    texts = passages(args.corpus, args.articles)
    model = Embedder().model
    model.encode(texts[:32])
    started = time.perf_counter()
    reference = model.encode(texts, batch_size=32, normalize_embeddings=True)
    float32 = len(texts) / (time.perf_counter() - started)
    started = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        vectors = model.encode(texts, batch_size=32, normalize_embeddings=True)
    bf16 = len(texts) / (time.perf_counter() - started)
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cosines = (vectors * reference).sum(axis=1)
    print(f"{len(texts)} passages: float32 {float32:.1f} passages/s, bf16 {bf16:.1f} passages/s "
          f"({bf16 / float32:.2f}x); bf16 vectors: least cosine {cosines.min():.6f}, mean "
          f"{cosines.mean():.6f}")


if __name__ == "__main__":
    main()
