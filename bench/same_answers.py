"""Whether two checkouts answer alike: the JSON API's answers to many questions, byte for byte.

Usage: python bench/same_answers.py --index-dir DIR --queries FILE.jsonl --a-root CHECKOUT
           [--b-root .] [--n 200]

Each checkout's code serves DIR in a process of its own (the Flask app, no server) and answers,
for the first N headlines of FILE (a JSONL archive) or questions of a BEIR queries.jsonl:
/api/search in every mode, with a date filter, page 2, grouped by passage and sorted by date;
/api/timeline as shares beside another question; /api/facets; and /api/thread of the first
result's article. The answers are written as JSON lines (`took_ms` dropped: it is a time) and
compared; the script prints how many are identical and the first differences.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DUMP = r'''
import json, sys
from webapp import create_app
index, questions, out = sys.argv[1:4]
client = create_app({"INDEX_DIR": index, "TESTING": True}).test_client()
def ask(path, **params):
    answer = client.get(path, query_string=params)
    body = answer.get_json()
    if isinstance(body, dict):
        body.pop("took_ms", None)
    return {"path": path, "params": params, "status": answer.status_code, "body": body}
with open(out, "w") as f:
    for q in json.load(open(questions)):
        rows = [ask("/api/search", q=q, mode=m) for m in ("hybrid", "semantic", "keyword")]
        rows += [ask("/api/search", q=q, since="2017-01", until="2017-03-31"),
                 ask("/api/search", q=q, page=2), ask("/api/search", q=q, group="passage"),
                 ask("/api/search", q=q, sort="date"),
                 ask("/api/timeline", q=q, share="true", compare="election"),
                 ask("/api/facets", q=q)]
        found = rows[0]["body"].get("results") or []
        if found:
            rows.append(ask("/api/thread", id=found[0]["article"]["id"]))
        for row in rows:
            f.write(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n")
'''


def questions(path: Path, n: int) -> list[str]:
    found = []
    for line in path.open():
        if line.strip():
            record = json.loads(line)
            text = record.get("title") or record.get("text") or ""
            if text.strip():
                found.append(text.strip()[:300])
        if len(found) >= n:
            break
    return found


def dump(root: Path, index: Path, asked: Path, out: Path) -> None:
    subprocess.run([sys.executable, "-c", DUMP, str(index), str(asked), str(out)], cwd=root,
                   env={**os.environ, "PYTHONPATH": str(root)}, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--a-root", type=Path, required=True)
    parser.add_argument("--b-root", type=Path, default=ROOT)
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    print(f"command: python {' '.join(sys.argv)}")
    with tempfile.TemporaryDirectory() as tmp:
        asked = Path(tmp) / "questions.json"
        asked.write_text(json.dumps(questions(args.queries, args.n)))
        a, b = Path(tmp) / "a.jsonl", Path(tmp) / "b.jsonl"
        dump(args.a_root.resolve(), args.index_dir.resolve(), asked, a)
        dump(args.b_root.resolve(), args.index_dir.resolve(), asked, b)
        left, right = a.read_text().splitlines(), b.read_text().splitlines()
    same = sum(x == y for x, y in zip(left, right))
    print(f"{len(left)} answers from A, {len(right)} from B; {same} identical")
    shown = 0
    for x, y in zip(left, right):
        if x != y and shown < 3:
            shown += 1
            print("A:", x[:400], "\nB:", y[:400])
    sys.exit(0 if same == len(left) == len(right) else 1)


if __name__ == "__main__":
    main()
