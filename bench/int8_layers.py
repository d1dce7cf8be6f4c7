"""Which matrix products to quantise: semantic nDCG@10 of int8 variants of the model's graph.

Usage: python bench/int8_layers.py COLLECTION [--variants float32,all,keep-L0,...]

COLLECTION is a BEIR folder (e.g. ../shared/eval/scifact). Its corpus is chunked as the indexer
does and embedded, each passage alone on every core, by each variant of the exported ONNX graph:
  float32      the graph as exported (the reference);
  all          every weight product quantised (ONNX Runtime's dynamic quantisation, per channel);
  keep-X[-Y]   all but the products whose node names hold X (and Y...): "L0" stands for the first
               layer ("/layer.0/"), anything else is matched as written ("output/dense").
float32 always runs first. Each is scored in memory (exact search, passages collapsed to their
best article, nDCG@10) with its own question vectors and with float32 ones, and its passage
vectors are compared with float32's (cosine). Prints each variant's rate too (compare rates
within one run only).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench.search_latency import machine  # noqa: E402
from indexer import Embedder, chunk_article, make_article  # noqa: E402
from indexer.chunking import embedding_text  # noqa: E402
from indexer.features.evaluate import load_collection, ndcg_at  # noqa: E402
from indexer.embedding.onnx_query import OnnxQueryEncoder, _quantise  # noqa: E402


def variant_graph(source: Path, name: str, folder: Path) -> Path:
    """The graph of variant name, made from source in folder by the indexer's own quantiser."""
    if name == "float32":
        return source
    needles = [f"/layer.{part[1:]}/" if part[:1] == "L" and part[1:].isdigit() else part
               for part in name.split("-")[1:]] if name != "all" else []
    graph = folder / (name.replace("/", "_") + ".onnx")
    _quantise(source, graph, re.compile("|".join(map(re.escape, needles))) if needles else None)
    return graph


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("collection", type=Path)
    parser.add_argument("--variants", default="float32,all,keep-L0")
    args = parser.parse_args()
    print(f"# python {' '.join(sys.argv)}\n# {machine()}", flush=True)
    corpus, queries, qrels = load_collection(args.collection)
    with corpus.open(encoding="utf-8") as lines:
        articles = [make_article(json.loads(line)) for line in lines if line.strip()]
    texts, owners = [], []
    for article in articles:
        for passage in chunk_article(article):
            texts.append(embedding_text(article.title, passage.text))
            owners.append(article.id)
    owner = np.array(owners)
    qids = list(queries)
    questions = [queries[q] for q in qids]
    print(f"{len(articles)} articles, {len(texts)} passages, {len(qids)} queries", flush=True)
    base = Embedder(precision="float32")._query_encoder()
    if base is None:
        raise SystemExit("the model's ONNX graph could not be made")

    def embed(encoder: OnnxQueryEncoder, items: list[str]) -> np.ndarray:
        with ThreadPoolExecutor(len(os.sched_getaffinity(0))) as pool:
            return np.stack(list(pool.map(encoder.encode_one, items)))

    def score(passages: np.ndarray, asked: np.ndarray) -> float:
        similarity = asked @ passages.T
        found = []
        for row, qid in enumerate(qids):
            depth = min(300, len(texts) - 1)
            top = np.argpartition(-similarity[row], depth)[:depth]
            top = top[np.argsort(-similarity[row][top])]
            found.append(ndcg_at(list(dict.fromkeys(owner[top]))[:10], qrels[qid]))
        return float(np.mean(found))

    reference_passages = reference_questions = None
    with tempfile.TemporaryDirectory() as tmp:
        names = [n for n in args.variants.split(",") if n != "float32"]
        for name in ["float32", *names]:  # the reference first
            encoder = OnnxQueryEncoder(variant_graph(base.graph, name, Path(tmp)), base.folder,
                                       base.max_tokens)
            started = time.perf_counter()
            passages = embed(encoder, texts)
            rate = len(texts) / (time.perf_counter() - started)
            asked = embed(encoder, questions)
            if reference_passages is None:
                reference_passages, reference_questions = passages, asked
            line = f"{name}: {rate:.1f} passages/s, semantic nDCG@10 {score(passages, asked):.4f}"
            if name != "float32":
                cosines = (passages * reference_passages).sum(axis=1)
                line += (f"; with float32 questions {score(passages, reference_questions):.4f}; "
                         f"float32 passages with these questions "
                         f"{score(reference_passages, asked):.4f}; passage cosine to float32 "
                         f"mean {cosines.mean():.5f}, least {cosines.min():.4f}")
            print(line, flush=True)


if __name__ == "__main__":
    main()
