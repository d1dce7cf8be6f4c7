"""Retrieval quality on a BEIR-format collection, scored on what a search shows: nDCG@10,
Recall@100, MRR@10 per search mode, and where the collection gives answers, how often the passage
shown holds the answer (answer@k), and how often the sentence it marks in bold does
(sentence@k)."""

from __future__ import annotations

import csv
import json
import math
import re
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from indexer.building.pipeline import build_index
from indexer.embedding.embedder import DEFAULT_MODEL, Embedder
from indexer.errors import IndexerError, IndexNotFoundError
from indexer.storage.indexdir import current_build
from indexer.storage.manifest import Manifest
from indexer.embedding.onnx_query import DEFAULT_PRECISION
from indexer.progress import progress_bar
from indexer.retrieval.milvus.client import MilvusAddress, is_milvus
from indexer.retrieval.milvus.upload import upload
from indexer.search.checks import EVAL_MODES, MAX_K
from indexer.search.results import Hit, SearchResult
from indexer.search.searcher import Searcher

ANSWER_KS = (1, 3, 10)
SENTENCE_KS = (1, 3)
PAGE = 10  # results on a first page: the API's and the page's default
_NOT_WORD = re.compile(r"[^\w\s]|_")


@dataclass
class EvalRow:
    """One mode's scores over all judged queries; the answer columns where the collection has
    answers.jsonl (None otherwise)."""

    mode: str
    ndcg_at_10: float
    recall_at_100: float
    mrr_at_10: float
    median_ms: float
    queries: int
    answer_at_1: float | None = None  # the answer is in the first result's passage
    answer_at_3: float | None = None  # ... in one of the first 3 results' passages
    answer_at_10: float | None = None
    sentence_at_1: float | None = None  # the answer is in the first result's bold sentence
    sentence_at_3: float | None = None  # ... in one of the first 3 results' bold sentences


@dataclass
class EvalReport:
    """The collection, the index it was scored on, and one row per mode."""

    collection: str
    model: str
    articles: int
    passages: int
    build_seconds: float | None
    rows: list[EvalRow]
    precision: str = "float32"  # of the passage vectors

    def to_dict(self) -> dict:
        """The report as JSON."""
        return asdict(self)


def load_collection(folder: Path) -> tuple[Path, dict[str, str], dict[str, dict[str, int]]]:
    """(corpus.jsonl, queries by id, judgements by query id) of a BEIR folder."""
    corpus = folder / "corpus.jsonl"
    queries_file = folder / "queries.jsonl"
    qrels_file = folder / "qrels" / "test.tsv"
    for path in (corpus, queries_file, qrels_file):
        if not path.is_file():
            raise IndexerError(f"{path} is missing: a BEIR collection has corpus.jsonl, "
                               "queries.jsonl and qrels/test.tsv")
    qrels: dict[str, dict[str, int]] = {}
    with qrels_file.open(encoding="utf-8", newline="") as handle:
        for lineno, row in enumerate(csv.reader(handle, delimiter="\t"), 1):
            if lineno == 1 and row and not row[-1].lstrip("-").isdigit():
                continue  # header
            if len(row) < 3:
                raise IndexerError(f"{qrels_file}:{lineno}: expected query-id, corpus-id, score")
            try:
                qrels.setdefault(row[0], {})[row[1]] = int(row[2])
            except ValueError:
                raise IndexerError(f"{qrels_file}:{lineno}: the score {row[2][:40]!r} is not a "
                                   "whole number (query-id, corpus-id, score)") from None
    queries = _read_jsonl(queries_file, "a query", lambda r: (str(r["_id"]), r["text"]))
    return corpus, {q: queries[q] for q in qrels if q in queries}, qrels


def load_answers(folder: Path) -> dict[str, list[str]]:
    """Each query's answer texts from the collection's answers.jsonl ({"_id", "answers"} a
    line); empty when it has none."""
    path = folder / "answers.jsonl"
    if not path.is_file():
        return {}
    return _read_jsonl(path, "an answer",
                       lambda r: (str(r["_id"]), [str(a) for a in r["answers"]]))


def _read_jsonl(path: Path, what: str, entry: Callable[[Any], tuple[str, Any]]) -> dict[str, Any]:
    """{key: value} of entry(record) for each record of a JSON Lines file; a line that is not
    such a record is an IndexerError naming it."""
    found = {}
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, 1):
            if line.strip():
                try:
                    key, value = entry(json.loads(line))
                except (ValueError, KeyError, TypeError) as exc:
                    raise IndexerError(f"{path}:{lineno}: not {what} ({exc})") from None
                found[key] = value
    return found


def normalise_answer(text: str) -> str:
    """Text as answers are matched: lower-cased, punctuation dropped, words one space apart."""
    return " ".join(_NOT_WORD.sub("", text.lower()).split())


def holds_answer(passage: str, answers: Sequence[str]) -> bool:
    """Whether any answer, normalised, is in the normalised passage."""
    text = normalise_answer(passage)
    return any((a := normalise_answer(answer)) and a in text for answer in answers)


def shows_answer(hit: Hit, answers: Sequence[str]) -> bool:
    """Whether what a result shows (its article's opening, where shown, and its passage) holds
    one of the answers."""
    return any(holds_answer(part.text, answers) for part in (hit.lead, hit.passage)
               if part is not None)


def bolds_answer(hit: Hit, answers: Sequence[str]) -> bool:
    """Whether the sentence a result marks as answering best (in bold) holds one of the
    answers."""
    return bool(hit.answer) and holds_answer(hit.answer, answers)


def ndcg_at(ranked: Sequence[str], judged: dict[str, int], n: int = 10) -> float:
    """Normalised discounted cumulative gain of the first n ids."""
    dcg = sum(judged.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked[:n]))
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:n]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: Sequence[str], judged: dict[str, int], n: int = 100) -> float:
    """Share of the relevant ids found in the first n."""
    relevant = {doc for doc, g in judged.items() if g > 0}
    return len(relevant.intersection(ranked[:n])) / len(relevant) if relevant else 0.0


def mrr_at(ranked: Sequence[str], judged: dict[str, int], n: int = 10) -> float:
    """1 / rank of the first relevant id within the first n, else 0."""
    for i, doc in enumerate(ranked[:n], 1):
        if judged.get(doc, 0) > 0:
            return 1.0 / i
    return 0.0


def _reusable(index_dir: Path, corpus: Path, model: str, precision: str) -> Manifest | None:
    try:
        manifest = Manifest.read(current_build(index_dir))
    except IndexerError:
        return None
    if manifest.model == model and manifest.sources == [str(corpus.resolve())] and \
            precision == manifest.precision:
        return manifest
    return None


def evaluate(folder: Path, modes: Sequence[str] = EVAL_MODES, model: str = DEFAULT_MODEL,
             index_dir: Path | None = None, progress: bool = False,
             precision: str = DEFAULT_PRECISION, backend: str | None = None,
             embedder: Embedder | None = None) -> EvalReport:
    """Index the collection (or reuse index_dir's index of it, if of that precision) and score
    each mode on what a search shows; with a Milvus backend, the index is copied there and
    searched there. embedder: the model loaded already, else model is loaded."""
    model = embedder.name if embedder is not None else model
    corpus, queries, qrels = load_collection(Path(folder))
    answers = load_answers(Path(folder))
    with tempfile.TemporaryDirectory(prefix="news-search-eval-") as tmp:
        target = Path(index_dir) if index_dir else Path(tmp)
        build_seconds = None
        if _reusable(target, corpus, model, precision) is None:
            result = build_index([corpus], target, model=model, progress=progress,
                                 precision=precision, embedder=embedder)
            build_seconds = result.manifest.build_seconds
        if is_milvus(backend):
            upload(current_build(target), MilvusAddress.parse(backend), progress=progress)
        searcher = Searcher(target, model=model, embedder=embedder, backend=backend)
        rows = [_score_mode(searcher, queries, qrels, answers, mode, progress) for mode in modes]
        m = searcher.manifest
        return EvalReport(str(folder), m.model, m.articles, m.passages, build_seconds, rows,
                          m.precision)


def shown(result: SearchResult) -> list[list[str]]:
    """The article ids each result shows: its own, then its syndicated copies'."""
    return [[hit.article.id, *(c.id for c in hit.copies)] for hit in result.hits]


def _score_mode(searcher: Searcher, queries: dict[str, str],
                qrels: dict[str, dict[str, int]], answers: dict[str, list[str]], mode: str,
                progress: bool) -> EvalRow:
    """A mode's scores: each query searched as the API does (one result per story), a result
    relevant when the article it shows or one of its copies is judged so; nDCG, Recall and MRR
    over the first MAX_K results, answer@k and the time over a first page of PAGE."""
    if not queries:
        raise IndexNotFoundError("no judged query has a text in queries.jsonl")
    ndcg, recall, mrr, times = [], [], [], []
    found = {k: [] for k in ANSWER_KS}
    bold: dict[int, list[bool]] = {k: [] for k in SENTENCE_KS}
    for qid, text in progress_bar(queries.items(), desc=f"Queries ({mode})", unit=" queries",
                                  disable=not progress, leave=False):
        started = time.perf_counter()
        page = searcher.search(text, PAGE, mode)  # what a person sees first, timed
        times.append((time.perf_counter() - started) * 1000)
        result = searcher.search(text, MAX_K, mode)  # the same ranking, deeper
        judged = qrels[qid]
        ranked = [max(ids, key=lambda i: judged.get(i, 0)) for ids in shown(result)]
        ndcg.append(ndcg_at(ranked, judged))
        recall.append(recall_at(ranked, judged))
        mrr.append(mrr_at(ranked, judged))
        if qid in answers:
            held = [shows_answer(hit, answers[qid]) for hit in page.hits]
            for k in ANSWER_KS:
                found[k].append(any(held[:k]))
            held = [bolds_answer(hit, answers[qid]) for hit in page.hits]
            for k in SENTENCE_KS:
                bold[k].append(any(held[:k]))
    with_answers = {**{f"answer_at_{k}": statistics.fmean(v) if v else None
                       for k, v in found.items()},
                    **{f"sentence_at_{k}": statistics.fmean(v) if v else None
                       for k, v in bold.items()}}
    return EvalRow(mode, statistics.fmean(ndcg), statistics.fmean(recall), statistics.fmean(mrr),
                   statistics.median(times), len(queries), **with_answers)
