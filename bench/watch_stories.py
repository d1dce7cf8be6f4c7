"""Do watches catch the new stories? NewsArticles with its last 150 articles (by date) held back.

The archive without them is indexed and three watches saved; the 150 are added with
`index --update` and the watches checked. Printed for each watch: the held-back stories a reader
judged relevant to it (JUDGED: chosen by reading the 150 headlines, and the text where the
headline left it open, before the watches were run), those reported, and the others reported.
Beside them, what a watch that follows its 20 best passages (the rule before watches followed
stories) would have reported: the articles of the passages among the 20 best after the update
and not before.

Run: python bench/watch_stories.py [--archive ../shared/data/newsarticles.jsonl] [--work DIR]
(about 8 minutes here: the index of 3,674 articles is built once, in DIR if given and reused).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from indexer import Searcher, build_index, update_index
from indexer.features.watches import Watches

HELD_BACK = 150
PASSAGES_BEFORE = 20
WATCHES = {"brexit": "Brexit",
           "russia-probe": "Russian interference in the US election",
           "kim-jong-nam": "the killing of Kim Jong-nam in Malaysia"}
JUDGED = {
    "brexit": {"na-3675", "na-3679", "na-3680", "na-3684", "na-3753", "na-3754", "na-3775",
               "na-3800", "na-3807"},
    "russia-probe": {"na-3693", "na-3719", "na-3730", "na-3731", "na-3732", "na-3733",
                     "na-3742", "na-3749", "na-3758", "na-3769"},
    "kim-jong-nam": {"na-3790", "na-3812"},
}


def split_archive(archive: Path, folder: Path) -> tuple[list[dict], dict[str, str]]:
    """The archive's articles but the last HELD_BACK by date in folder/early.jsonl; those
    returned, and every article's headline by id."""
    articles = sorted((json.loads(line) for line in archive.open(encoding="utf-8")),
                      key=lambda a: (a.get("date") or "", a["id"]))
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "early.jsonl").open("w", encoding="utf-8") as out:
        out.writelines(json.dumps(a, ensure_ascii=False) + "\n" for a in articles[:-HELD_BACK])
    return articles[-HELD_BACK:], {a["id"]: a.get("title") or "" for a in articles}


def passage_articles(searcher: Searcher, query: str) -> set[str]:
    return {h.article.id for h in searcher.search(query, PASSAGES_BEFORE, group="passage").hits}


def report(name: str, found: set[str], before: set[str], titles: dict[str, str]) -> None:
    judged = JUDGED[name]
    print(f"{name} ({WATCHES[name]!r}): judged relevant {len(judged)}; reported by story "
          f"{len(found & judged)} of them, {len(found - judged)} others; by 20 best passages "
          f"{len(before & judged)} of them, {len(before - judged)} others")
    for aid in sorted(judged - found):
        print(f"   missed: {aid} {titles[aid][:80]}")
    for aid in sorted(found - judged):
        print(f"   also reported: {aid} {titles[aid][:80]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", type=Path, default=Path("../shared/data/newsarticles.jsonl"))
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="watch-stories-"))
    late, titles = split_archive(args.archive, work / "archive")
    early, index = work / "early-index", work / "index"
    if not (early / "CURRENT").exists():
        build_index([work / "archive"], early, progress=True)
    shutil.rmtree(index, ignore_errors=True)
    shutil.copytree(early, index)
    watches, searcher = Watches(index), Searcher(index)
    before = {name: passage_articles(searcher, q) for name, q in WATCHES.items()}
    for name, query in WATCHES.items():
        watches.save(searcher, name, query)
    with (work / "archive" / "late.jsonl").open("w", encoding="utf-8") as out:
        out.writelines(json.dumps(a, ensure_ascii=False) + "\n" for a in late)
    try:
        update_index([work / "archive"], index, progress=True)
        searcher = Searcher(index)
        for watch, new in watches.check(searcher):
            old = passage_articles(searcher, watch.query) - before[watch.name]
            report(watch.name, {f["key"] for f in new}, old, titles)
    finally:
        (work / "archive" / "late.jsonl").unlink()  # the next run starts from the early build


if __name__ == "__main__":
    main()
