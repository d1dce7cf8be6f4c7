"""How well the matching rule (indexer/search/matching.py) draws its set, on eval collections.

For each question, the stories that match it are what timelines, facets, exports and the page's
count count. On a collection whose judged documents are the ones that should match:
- recall: the share of judged documents inside the set;
- precision: the share of the set's stories that are judged, or hold the answer (NewsQA's
  answers.jsonl), over the questions whose set is not empty (a lower bound: an unjudged story
  may match rightly);
- the set's size (median, mean) and the share of questions with an empty set.
Each bar and share given is tried (the rule's constants set for the run).

Run (each index built by `news-search eval SET --index-dir IX`, which it reuses):
    python bench/matching.py ../shared/eval/newsqa_dev=IX-NQ ../shared/eval/scifact=IX-SF \
        --bar 0.55 --bar 0.6 --bar 0.65 --share 0.8 --share 1.0
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from indexer import Searcher
from indexer.features.evaluate import holds_answer, load_answers, load_collection
from indexer.filters import Filters
from indexer.retrieval.local import first_places
from indexer.search import matching
from indexer.storage.indexdir import current_build
from indexer.storage.manifest import Manifest


def built_with(index_dir: Path) -> str:
    """The model the index folder's build was made with."""
    return Manifest.read(current_build(index_dir)).model


def matched_ids(searcher: Searcher, query: str) -> list[str]:
    """The article ids of the stories that match query (each story by its best article)."""
    loaded = searcher._current()
    pool = searcher._matching(loaded, query, "hybrid", Filters())
    heads = first_places(pool.about.stories)
    found = loaded.passages([int(pool.ids[at]) for at in heads])
    return [found[int(pool.ids[at])][1].id for at in heads]


def scores(searcher: Searcher, collection: Path) -> dict[str, float]:
    """recall, precision, sizes and empty share of the rule as set now, over the collection."""
    _, queries, qrels = load_collection(collection)
    answers = load_answers(collection) if (collection / "answers.jsonl").exists() else {}
    recall, precision, sizes = [], [], []
    for qid, query in queries.items():
        judged = {d for d, g in qrels.get(qid, {}).items() if g > 0}
        if not judged:
            continue
        ids = matched_ids(searcher, query)
        recall.append(len(judged & set(ids)) / len(judged))
        sizes.append(len(ids))
        if ids:
            good = [i for i in ids if i in judged or (answers.get(qid) and holds_answer(
                searcher.article(i).text, answers[qid]))]
            precision.append(len(good) / len(ids))
    return {"recall": statistics.mean(recall), "precision": statistics.mean(precision or [0]),
            "median": statistics.median(sizes), "mean": statistics.mean(sizes),
            "empty": sizes.count(0) / len(sizes)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sets", nargs="+", metavar="COLLECTION=INDEX_DIR")
    parser.add_argument("--bar", type=float, action="append",
                        help="meaning bars to try (default: the model's)")
    parser.add_argument("--share", type=float, action="append",
                        help="word shares to try (default: the rule's)")
    args = parser.parse_args()
    searchers = [(Path(c), Searcher(Path(ix), model=built_with(Path(ix))))
                 for c, ix in (s.split("=", 1) for s in args.sets)]
    model = searchers[0][1].manifest.model
    for bar in args.bar or [matching.MEANING_BARS.get(model)]:
        for share in args.share or [matching.WORDS_SHARE]:
            matching.MEANING_BARS[model], matching.WORDS_SHARE = bar, share
            for collection, searcher in searchers:
                searcher._pools.clear()
                s = scores(searcher, collection)
                print(f"{collection.name:26s} bar {bar} share {share}: recall {s['recall']:.3f}"
                      f" precision {s['precision']:.3f} size median {s['median']:.0f} mean "
                      f"{s['mean']:.1f} empty {s['empty']:.2f}", flush=True)


if __name__ == "__main__":
    main()
