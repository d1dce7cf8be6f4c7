"""Batch search: a file of questions from the CLI, a list from the API; each question answered
by its best results, a failure reported in its own row while the others go on."""

from __future__ import annotations

import csv
import io
import json

from click.testing import CliRunner

from helpers import ALEPPO_QUESTION
from webapp import create_app
from webapp.cli import main


def test_a_csv_of_questions_keeps_its_columns_and_reports_bad_rows(seeds_index, tmp_path):
    questions = tmp_path / "questions.csv"
    questions.write_text(
        "desk,Question,source\n"
        f'world,"{ALEPPO_QUESTION}",wire\n'
        "world,,empty\n"  # no question: its row says so
        f"metro,{'y' * 1200},long\n"  # over the limit: its row says so
        "metro,who would hold talks with Washington,\n", "utf-8")
    result = CliRunner().invoke(main, ["batch", str(questions), "--k", "2", "--index-dir",
                                       str(seeds_index)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["desk"] for r in rows] == ["world", "world", "metro", "metro"]
    first = rows[0]
    assert first["input source"] == "wire" and first["source"] == "AFP" and first["rank"] == "1"
    assert "15,000" in first["answer"] and first["answer"] in first["passage"]
    assert rows[1]["error"].startswith("line 3: the query is empty")
    assert "1200 characters" in rows[2]["error"] and rows[2]["rank"] == ""
    assert rows[3]["title"] == "Syria rebels reject Aleppo exit as army advances"
    assert "4 questions: 4 rows" in result.stderr
    saved = tmp_path / "answers.csv"  # a file a person opens: marked as UTF-8 for spreadsheets
    assert CliRunner().invoke(main, ["batch", str(questions), "--k", "2", "-o", str(saved),
                                     "--index-dir", str(seeds_index)]).exit_code == 0
    assert saved.read_bytes().startswith("\ufeff".encode())
    assert not result.stdout.startswith("\ufeff")  # piped on: no mark
    assert list(csv.DictReader(io.StringIO(saved.read_text("utf-8-sig")))) == rows


def test_a_list_of_questions_to_json_lines_round_trips(seeds_index, tmp_path):
    questions = tmp_path / "questions.txt"
    questions.write_text(f"{ALEPPO_QUESTION}\n\n  Aleppo evacuation talks  \n", "utf-8")
    out = tmp_path / "answers.jsonl"
    result = CliRunner().invoke(main, ["batch", str(questions), "--k", "1", "-o", str(out),
                                       "--index-dir", str(seeds_index)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [r["question"] for r in rows] == [ALEPPO_QUESTION, "Aleppo evacuation talks"]
    assert all(r["rank"] == 1 and r["error"] == "" and r["article_id"] for r in rows)


def test_an_empty_or_unreadable_file_is_a_clear_error(seeds_index, tmp_path):
    (tmp_path / "empty.txt").write_text("\n \n")
    (tmp_path / "binary.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xffbad")  # an image
    for name, message in (("empty.txt", "holds no question"), ("binary.csv", "cannot read")):
        result = CliRunner().invoke(main, ["batch", str(tmp_path / name), "--index-dir",
                                           str(seeds_index)])
        assert result.exit_code == 1 and message in result.output, result.output


def test_the_api_answers_a_list_and_reports_each_failure(seeds_index):
    client = create_app({"INDEX_DIR": str(seeds_index)}).test_client()
    response = client.post("/api/batch", json={"questions": [ALEPPO_QUESTION, " ", "Aleppo"],
                                               "k": 2, "source": ["afp"]})
    assert response.status_code == 200
    answers = response.get_json()["answers"]
    assert [a["question"] for a in answers] == [ALEPPO_QUESTION, " ", "Aleppo"]
    assert "15,000" in answers[0]["results"][0]["answer"] and answers[0]["error"] is None
    assert answers[1]["results"] == [] and "empty" in answers[1]["error"]
    assert answers[2]["results"][0]["article"]["source"] == "AFP"
    for body, message in (({"questions": ["a"] * 101}, "1 to 100 questions"),
                          ({"questions": ["a"], "k": 0}, "k must be"),
                          ({"questions": ["a"], "source": "BBC"}, "no outlet 'BBC'"),
                          ({"question": ["a"]}, "the body must be JSON")):
        refused = client.post("/api/batch", json=body)
        assert refused.status_code == 400 and message in refused.get_json()["error"]["message"]
    assert client.post("/api/batch", data="x" * 70_000,
                       content_type="application/json").status_code == 413


def _all_pages(client, query: str, matching: bool) -> list[tuple[int, str, float]]:
    pages, page = [], 1
    while True:
        data = client.get("/api/search", query_string={
            "q": query, "k": 2, "page": page, "match": str(matching).lower()}).get_json()
        pages += [(r["rank"], r["article"]["id"], r["score"]) for r in data["results"]]
        if not data["has_more"]:
            return pages
        page += 1


def test_an_export_holds_every_matching_story_of_every_page_and_round_trips(archive_index):
    client = create_app({"INDEX_DIR": str(archive_index)}).test_client()
    pages = _all_pages(client, "year", True)  # the stories that say "year(s)", at least
    assert len(pages) >= 6
    exported = client.get("/api/export?q=year")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    assert 'filename="news-search-year.csv"' in exported.headers["Content-Disposition"]
    assert exported.get_data().startswith("\ufeff".encode())  # spreadsheets: it is UTF-8
    rows = list(csv.DictReader(io.StringIO(exported.get_data().decode("utf-8-sig"))))
    assert [(int(r["rank"]), r["article_id"], float(r["score"])) for r in rows] == pages
    lines = client.get("/api/export?q=year&format=jsonl").get_data(as_text=True).splitlines()
    assert [json.loads(line) for line in lines] == [
        {**r, "rank": int(r["rank"]), "score": float(r["score"])} for r in rows]
    cli = CliRunner().invoke(main, ["search", "year", "--format", "csv", "--index-dir",
                                    str(archive_index)])
    assert list(csv.DictReader(io.StringIO(cli.stdout))) == rows
    every = client.get("/api/export?q=year&match=false&format=jsonl").get_data(as_text=True)
    ranked = _all_pages(client, "year", False)
    assert [(r["rank"], r["article_id"], r["score"]) for r in map(json.loads, every.splitlines())
            ] == ranked and len(ranked) > len(pages)
    for bad, message in (("format=xlsx", "format must be csv or jsonl"), ("k=3", "unknown"),
                         ("match=maybe", "match must be true or false")):
        refused = client.get(f"/api/export?q=year&{bad}")
        assert refused.status_code == 400 and message in refused.get_json()["error"]["message"]


def test_a_headline_is_never_a_spreadsheet_formula(tmp_path, words):
    from indexer import build_index

    (tmp_path / "a.jsonl").write_text(json.dumps({
        "id": "f1", "title": "=HYPERLINK(\"http://evil.example\",\"click\")",
        "text": "The council voted to close the harbour bridge for repairs."}) + "\n")
    build_index([tmp_path / "a.jsonl"], tmp_path / "ix", embedder=words)
    client = create_app({"INDEX_DIR": str(tmp_path / "ix"), "EMBEDDER": words}).test_client()
    rows = list(csv.DictReader(io.StringIO(
        client.get("/api/export?q=harbour+bridge").get_data(as_text=True))))
    assert rows[0]["title"] == "'=HYPERLINK(\"http://evil.example\",\"click\")"
    line = client.get("/api/export?q=harbour+bridge&format=jsonl").get_data(as_text=True)
    assert json.loads(line)["title"].startswith("=HYPERLINK")  # JSON is data, kept as it is


def test_the_page_answers_pasted_questions_and_downloads_them(seeds_index):
    client = create_app({"INDEX_DIR": str(seeds_index)}).test_client()
    form = client.get("/batch").get_data(as_text=True)
    assert '<textarea id="questions" name="questions"' in form
    pasted = f"{ALEPPO_QUESTION}\n\n{'z' * 1200}\nwho would hold talks with Washington\n"
    page = client.post("/batch", data={"questions": pasted, "k": "1"}).get_data(as_text=True)
    assert page.count('<h2>') == 3 and "15,000" in page  # the answer sentence, shown
    assert "the query is 1200 characters long" in page  # the failure in its place
    download = client.post("/batch.csv", data={"questions": pasted, "k": "3"})
    assert (
        download.mimetype == "text/csv" and "attachment" in download.headers["Content-Disposition"]
    )
    assert download.get_data().startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(download.get_data().decode("utf-8-sig"))))
    assert [r["question"][:10] for r in rows] == [ALEPPO_QUESTION[:10], "z" * 10, "who would "]
    too_many = client.post("/batch", data={"questions": "q\n" * 101})
    assert too_many.status_code == 400 and "at most 100" in too_many.get_data(as_text=True)


def test_the_batch_page_takes_a_file_of_questions_and_keeps_its_columns(words_index, words):
    client = create_app({"INDEX_DIR": str(words_index), "EMBEDDER": words}).test_client()
    table = ("desk,Question,Source\n"
             "metro,why was the harbour bridge closed,café\n"
             'world,"an unterminated quote,x\n'
             "world,museum theft paintings,wire\n").encode()

    def send(path: str, body: bytes, name: str = "questions.csv"):
        return client.post(path, data={"k": "1", "file": (io.BytesIO(body), name)},
                           content_type="multipart/form-data")

    page = send("/batch", table).get_data(as_text=True)
    assert page.count("<h2>") == 3 and "Harbour bridge closed" in page
    assert "line 3: " in page and "quote" in page  # the line that is not CSV says why, alone
    download = send("/batch.csv", table)
    rows = list(csv.DictReader(io.StringIO(download.get_data().decode("utf-8-sig"))))
    assert [r["desk"] for r in rows] == ["metro", "", "world"]  # an unreadable line: no columns
    assert rows[0]["input Source"] == "café" and rows[0]["title"].startswith("Harbour bridge")
    assert rows[1]["error"].startswith("line 3") and rows[2]["title"]
    lines = send("/batch", b"storm damage\n\nvolcano\n", "questions.txt").get_data(as_text=True)
    assert lines.count("<h2>") == 2
    # A spreadsheet's "Unicode text" (UTF-16, marked so) reads as its UTF-8 copy.
    unicode = send("/batch.csv", table.decode().encode("utf-16"))
    assert list(csv.DictReader(io.StringIO(unicode.get_data().decode("utf-8-sig")))) == rows
    for body, name, message in ((b"\xe9t\xe9 bad", "q.csv", "is not UTF-8 text"),
                                (b"q\n" * 101, "q.txt", "at most 100"),
                                (b"\n\n", "q.txt", "holds no question")):
        refused = send("/batch", body, name)
        assert refused.status_code == 400 and message in refused.get_data(as_text=True)
