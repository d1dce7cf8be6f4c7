"""Readers on messy real-world input: every format, field aliases, boilerplate, bad files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from helpers import ARCHIVE, SEEDS
from indexer import ArchiveError, ReadReport, make_article, read_archive
from indexer.articles import RecordError, clean_text, normalise_date


def read(*paths: Path) -> tuple[dict, ReadReport]:
    report = ReadReport()
    return {a.id: a for a in read_archive(list(paths), report)}, report


def test_seed_article_is_read_without_bullet_indentation_or_comment_trailer():
    articles, report = read(SEEDS)
    assert report.files == 1 and not report.skipped
    (article,) = articles.values()
    assert article.title == "Syria rebels reject Aleppo exit as army advances"
    assert article.text.startswith("ALEPPO, Syria: Russia said")
    assert "commenting guidelines" not in article.text and "Comments are closed" not in article.text
    assert article.text.endswith("five-year civil war.")
    assert (
        "\n\n" in article.text and "    " not in article.text
    )  # paragraphs kept, indentation gone
    assert (article.source, article.date) == ("AFP", "2016-12-05")  # from the sidecar .meta.json


def test_every_format_in_a_folder_is_read_with_its_fields():
    articles, report = read(ARCHIVE)
    bridge = articles["harbour-bridge"]
    assert bridge.title.startswith("Harbour bridge closed")
    assert bridge.url == "https://courier.example/harbour-bridge-closed"
    md = articles["features/cycling-lanes"]
    assert md.title == "City council approves network of protected cycling lanes"
    assert md.date == "2021-04-14" and md.source == "Northfield Gazette"
    assert (
        "**" not in md.text and "road deaths among cyclists" in md.text and "(https" not in md.text
    )
    html = articles["drought"]
    assert html.title.startswith("Drought forces water limits")
    assert "irrigation water" in html.text
    assert (
        "tracking" not in html.text and "Weather" not in html.text
    )  # script and navigation dropped
    assert html.date.startswith("2021-07-02")
    wire = articles["wire-001"]  # JSONL with aliases headline/body/published/outlet/link
    assert wire.title == "Central bank raises interest rates to curb inflation"
    assert wire.date == "2022-09-15T12:00:00+00:00" and wire.source == "Wire Service"
    assert wire.url == "https://wire.example/rates"
    assert articles["wire-005"].date == "2023-03-05"
    museum = articles["csv-1"]  # CSV with the NewsArticles column names
    assert museum.date == "2019-11-20" and museum.source == "daily.example"
    assert articles["csv-2"].date == "not a date"  # unparseable dates are kept as written
    briefs = [a for a in articles.values() if a.source == "Campus News"]
    assert {a.date for a in briefs} == {"2023-04-20T09:15:00+02:00", "2023-05-17T08:00:00Z"}


def test_bad_records_are_skipped_with_file_line_and_reason():
    _, report = read(ARCHIVE)
    reasons = {s.where.rsplit("/", 1)[-1]: s.reason for s in report.skipped}
    assert "invalid JSON" in reasons["wire.jsonl:3"]
    assert "no headline and no article text" in reasons["wire.jsonl:4"]
    assert not any("meta.json" in s.where for s in report.skipped)  # sidecars are not articles


def test_broken_files_in_a_folder_are_skipped_and_the_rest_read(tmp_path):
    (tmp_path / "good.txt").write_text("A headline\n\nA body that says something.\n")
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "blank.md").write_text("  \n\n ")
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20)
    (tmp_path / "broken.json").write_text('{"title": "x", "text": ')
    (tmp_path / "numbers.json").write_text("[1, 2]")
    (tmp_path / "fake.csv.gz").write_bytes(b"not gzip at all")
    (tmp_path / "scan.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "README.md").write_text("# How this archive was made\n\nBy hand.\n")
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x01")
    unreadable = tmp_path / "secret.txt"
    unreadable.write_text("Title\nbody")
    unreadable.chmod(0)
    articles, report = read(tmp_path)
    reasons = {Path(s.where.split(":")[0].split("[")[0]).name: s.reason for s in report.skipped}
    assert list(articles) == ["good"] or (list(articles) == ["good", "secret"])  # root reads all
    assert reasons["empty.txt"] == "empty file"
    assert reasons["blank.md"] == "empty file"
    assert "binary file" in reasons["binary.txt"]
    assert "invalid JSON" in reasons["broken.json"]
    assert "not an object" not in reasons["numbers.json"] and "int" in reasons["numbers.json"]
    assert "not a valid gzip file" in reasons["fake.csv.gz"]
    assert "unsupported file type '.pdf'" in reasons["scan.pdf"]
    assert "documentation" in reasons["README.md"]
    assert ".DS_Store" not in reasons


def test_gzip_and_latin1_input(tmp_path):
    rows = [{"title": "Storm closes airport", "text": "Flights were grounded at Gdańsk airport.",
             "date": "2020-01-02"}]
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(json.dumps(rows[0]).encode()))
    (tmp_path / "b.csv").write_bytes("title,text\nCafé reopens,The café on the quay reopened.\n"
                                     .encode("latin-1"))
    articles, report = read(tmp_path)
    assert not report.skipped
    titles = sorted(a.title for a in articles.values())
    assert titles == ["Café reopens", "Storm closes airport"]


def test_ids_given_are_kept_and_derived_ids_are_stable():
    a = make_article({"id": " 42 ", "title": "T", "text": "Body."})
    assert a.id == "42"
    b1 = make_article({"title": "T", "text": "Body.", "url": "https://x.example/a"})
    b2 = make_article({"title": "Other", "text": "Changed.", "url": "https://x.example/a"})
    assert b1.id == b2.id and len(b1.id) == 16  # keyed on the URL when there is one
    c1, c2 = (
        make_article({"title": "T", "text": "Body."}),
        make_article({"title": "T", "text": "Body."}),
    )
    assert c1.id == c2.id


def test_headline_only_articles_are_kept_and_bad_fields_are_named():
    live = make_article({"title": "As it happened: politics today", "text": ""})
    assert live.title and live.text == ""
    with pytest.raises(RecordError, match="field 'title' is dict"):
        make_article({"title": {"nested": 1}, "text": "Body"})
    with pytest.raises(RecordError, match="expected an object"):
        make_article(["not", "a", "record"])  # type: ignore[arg-type]


@pytest.mark.parametrize("raw, iso", [
    ("2017/2/7", "2017-02-07"),
    ("Mon, 05 Dec 2016 14:30:00 +0000", "2016-12-05T14:30:00+00:00"),
    ("26-FEB-1987 15:01:01.79", "1987-02-26T15:01:01"),
    ("December 5, 2016", "2016-12-05"),
    ("Monday", "Monday"),
    ("soon", "soon"),
    ("99/99/2016", "99/99/2016"),
])
def test_dates_are_normalised_where_they_parse(raw, iso):
    assert normalise_date(raw) == iso


def test_boilerplate_and_invisible_characters_are_removed():
    text = (
        "First line\u200b.\n\n  Share this article  \n\nSecond\u00a0 line.\n\nComments are closed."
    )
    assert clean_text(text) == "First line.\n\nSecond line."


def test_missing_path_is_an_error(tmp_path):
    with pytest.raises(ArchiveError, match="no such file or folder"):
        read(tmp_path / "nope")


def test_a_bare_link_gets_its_headline_from_the_url():
    a = make_article({"url": "http://www.aljazeera.com/indepth/inpictures/2017/03/"
                             "united-states-tornadoes-ravage-states-killing-3-170302063836895.html",
                      "date": "2017-03-02", "title": "", "text": ""})
    assert a.title == "United states tornadoes ravage states killing 3" and a.text == ""
    with pytest.raises(RecordError, match="no headline and no article text"):
        make_article({"url": "https://x.example/?id=12345", "text": ""})


def test_an_article_gives_every_public_field_to_json():
    from dataclasses import fields

    article = make_article({"id": "a1", "title": "Bridge shut", "text": "The bridge shut.",
                            "date": "2026-11-20", "source": "Harbour Times",
                            "url": "https://example.org/a1"}, origin="x.jsonl:1")
    assert article.to_dict() == {"id": "a1", "title": "Bridge shut", "date": "2026-11-20",
                                 "source": "Harbour Times", "url": "https://example.org/a1",
                                 "language": ""}  # detected when indexed
    assert set(article.to_dict()) == {f.name for f in fields(article)} - {"text", "origin"}


@pytest.mark.parametrize("chunk", [7, 1 << 20])  # bytes parts() reads at a time: 7 splits "\r\n"
def test_a_large_json_lines_file_read_in_parts_reads_as_it_does_whole(tmp_path, monkeypatch,
                                                                       chunk):
    from indexer.reading import streams
    from indexer.reading.readers import read_file
    from indexer.reading.report import ReadOptions
    from indexer.reading.streams import parts

    monkeypatch.setattr(streams, "MB", chunk)

    lines = ["\ufeff" + json.dumps({"id": "a0", "title": "Première ligne", "text": "Café crème."})]
    for i in range(1, 40):
        record = json.dumps(
            {"id": f"a{i}", "title": f"Story {i} — über", "text": f"Text {i}. " * 9}
        )
        lines.append(["{not json", "", record, '{"title": ""}', "x" * 900, record][i % 6])
    ends = ["\n", "\r\n", "\r", "\n"]  # a lone CR ends a line too
    data = "".join(line + ends[i % 4] for i, line in enumerate(lines)).encode()
    file = tmp_path / "wire.jsonl"
    file.write_bytes(data)
    options = ReadOptions(max_article_bytes=800)  # the 900-character lines are over it
    whole = ReadReport()
    expected = [(a, a.origin) for a in read_file(file, tmp_path, whole, options)]
    assert len(expected) > 10 and whole.skip_count > 10 and whole.articles == len(expected)
    assert expected[0][0].title == "Première ligne"  # the byte-order mark is not in the title
    for size in (40, 300, 1500):
        cut = parts(file, size)
        assert cut and cut[0].start == 0 and cut[-1].end == len(data) and len(cut) > 1
        assert all(a.end == b.start for a, b in zip(cut, cut[1:]))
        report = ReadReport()
        got = [(a, a.origin) for p in cut for a in read_file(file, tmp_path, report, options, p)]
        assert got == expected  # the same articles, origins' line numbers included
        assert (report.articles, report.skipped) == (whole.articles, whole.skipped)
    assert parts(file, len(data)) is None  # not larger than a part: read whole
    gz = tmp_path / "wire.jsonl.gz"
    gz.write_bytes(gzip.compress(data))
    assert parts(gz, 40) is None  # a compressed file cannot be cut
    utf16 = tmp_path / "utf16.jsonl"
    utf16.write_bytes("\n".join(lines[1:]).encode("utf-16"))
    assert parts(utf16, 40) is None  # its line ends are two bytes: read whole
