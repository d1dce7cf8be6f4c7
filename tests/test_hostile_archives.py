"""Archives as an attacker or a careless disk makes them: links out, pipes, devices, odd names,
deep or huge records. Each is skipped with its reason or read safely, and never stops a build."""

from __future__ import annotations

import gzip
import json
import os
import string
import sys
import threading
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer import ReadOptions, ReadReport, Searcher, build_index, read_archive
from indexer.articles import derive_id
from indexer.building.pipeline import read_unique
from indexer.reading.report import FORMATS, MAX_SKIPS_LISTED

GOOD = {"title": "Harbour ferry resumes service", "text": "The ferry runs again after repairs."}
MB = 1024 * 1024


def read(*paths: Path, **options) -> tuple[dict, ReadReport]:
    report = ReadReport()
    return {a.id: a for a in read_archive(list(paths), report, ReadOptions(**options))}, report


def reasons(report: ReadReport) -> dict[str, str]:
    """Each skip's reason by the last part of where it was (file name, or name:line)."""
    return {s.where.rsplit("/", 1)[-1]: s.reason for s in report.skipped}


def good_file(folder: Path) -> None:
    (folder / "good.json").write_text(json.dumps(GOOD))


@pytest.mark.skipif(not Path("/etc/passwd").exists(), reason="needs /etc/passwd")
def test_links_out_of_the_archive_are_skipped_unless_asked_for(tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    good_file(archive)
    (archive / "passwd.txt").symlink_to("/etc/passwd")
    (archive / "status.txt").symlink_to("/proc/self/status")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.txt").write_text("Secret plan\nThe nologin shell is root's.")
    (archive / "folder-link").symlink_to(outside)
    (archive / "inside.txt").symlink_to(archive / "good.json")  # within the archive: read
    articles, report = read(archive)
    assert set(articles) == {"good", "inside"}
    why = reasons(report)
    for name in ("passwd.txt", "status.txt", "folder-link"):
        assert "outside the archive" in why[name] and "--follow-links" in why[name]
    assert not any("nologin" in a.text or "root" in a.text for a in articles.values())
    articles, report = read(archive, follow_links=True)  # asked for explicitly
    assert {"passwd", "status", "folder-link/secret"} <= set(articles)


def test_pipes_devices_and_broken_links_are_listed_and_never_opened(tmp_path):
    good_file(tmp_path)
    os.mkfifo(tmp_path / "pipe.jsonl")
    (tmp_path / "zero.jsonl").symlink_to("/dev/zero")
    (tmp_path / "gone.txt").symlink_to(tmp_path / "deleted.txt")
    (tmp_path / "loop.txt").symlink_to(tmp_path / "loop.txt")
    done: dict = {}
    reader = threading.Thread(target=lambda: done.update(zip(("articles", "report"), read(
        tmp_path, follow_links=True))), daemon=True)
    reader.start()
    reader.join(timeout=60)  # opening the FIFO for reading would block here forever
    assert "report" in done, "reading blocked on a FIFO or a device"
    why = reasons(done["report"])
    assert "FIFO" in why["pipe.jsonl"] and "not read" in why["pipe.jsonl"]
    assert "character device" in why["zero.jsonl"]
    assert "broken link" in why["gone.txt"] and "broken link" in why["loop.txt"]
    assert set(done["articles"]) == {"good"}


def test_a_fifo_named_as_the_archive_is_skipped_not_waited_on(tmp_path):
    os.mkfifo(tmp_path / "feed.jsonl")
    _, report = read(tmp_path / "feed.jsonl")
    assert "FIFO" in report.skipped[0].reason


def test_deeply_nested_json_is_skipped_and_the_rest_read(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    (tmp_path / "deep.json").write_text(deep)
    (tmp_path / "lines.jsonl").write_text(
        json.dumps(GOOD) + "\n" + '{"title": ' + deep + "}\n"
        + json.dumps({**GOOD, "id": "after"}) + "\n")
    (tmp_path / "deep.md").write_text("---\nx: " + "[" * 100_000 + "\n---\n# Title\n\nBody.\n")
    articles, report = read(tmp_path)
    why = reasons(report)
    assert "nested too deeply" in why["deep.json"]
    assert "nested too deeply" in why["lines.jsonl:2"]
    assert "after" in articles and "deep" in articles  # the front matter stays text


def test_a_file_name_that_is_not_utf8_gets_an_id_that_round_trips(tmp_path, embedder):
    archive = tmp_path / "archive"
    archive.mkdir()
    name = os.fsencode(archive) + b"/bad\xff\xfe.txt"
    with open(name, "wb") as f:
        f.write(b"Odd name survives\nA story filed under a name that is not UTF-8.")
    articles, report = read(archive)
    assert list(articles) == ["bad\\xff\\xfe"] and not report.skipped
    build_index([archive], tmp_path / "index", embedder=embedder)
    searcher = Searcher(tmp_path / "index", embedder=embedder)
    hit = searcher.search("story filed under an odd name", 1).hits[0]
    assert hit.article.id == "bad\\xff\\xfe"
    assert searcher.article(hit.article.id).title == "Odd name survives"


def test_lone_surrogates_are_cleaned_in_text_and_id(tmp_path, embedder):
    (tmp_path / "s.jsonl").write_text(
        '{"id": "x\\ud800y", "title": "Broken \\udfff pair", "text": "Text \\ud83d alone."}\n'
        '{"id": "pair", "title": "A real pair \\ud83d\\ude00", "text": "Kept whole."}\n')
    articles, report = read(tmp_path)
    assert set(articles) == {"x\ufffdy", "pair"} and not report.skipped
    assert articles["x\ufffdy"].text == "Text \ufffd alone."
    assert articles["pair"].title == "A real pair \U0001F600"
    build_index([tmp_path / "s.jsonl"], tmp_path / "index", embedder=embedder)  # no TypeError


def test_ids_are_kept_but_for_gaps_and_controls(tmp_path):
    (tmp_path / "ids.jsonl").write_text("\n".join(json.dumps({**GOOD, "id": i}) for i in (
        "a\tb", " a\nb ", "-5", "*starred*", "x" * 1000, "ö/../ü?#%", "y" * 1001)) + "\n")
    articles, report = read(tmp_path)
    assert set(articles) - {"a b", "-5", "*starred*", "x" * 1000, "ö/../ü?#%"} == {
        derive_id({"title": GOOD["title"], "text": GOOD["text"]})}  # over 1,000: made anew
    assert [s.reason for s in report.skipped] == [  # " a\nb " is "a b" too
        "duplicate article id 'a b' (first read from "
        f"{tmp_path}/ids.jsonl:1): ids must be unique; the first was indexed"] or \
        len(report.skipped) == 0


def peak_bytes(work) -> int:
    """The most memory Python allocated while work() ran (tracemalloc)."""
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_gzip_bomb_of_zeros_is_skipped_at_its_first_block(tmp_path):
    with gzip.open(tmp_path / "zeros.jsonl.gz", "wb", compresslevel=9) as f:
        block = b"\0" * MB
        for _ in range(64):
            f.write(block)
    good_file(tmp_path)
    articles = {}
    peak = peak_bytes(lambda: articles.update(read(tmp_path)[0]))
    assert set(articles) == {"good"}
    assert peak < 8 * MB  # the whole stream (64 MB) was never held


@pytest.mark.slow
def test_repeated_lines_are_read_in_bounded_memory(tmp_path):
    line = (json.dumps({"title": "Same story", "text": "Again " * 40}) + "\n").encode()
    with open(tmp_path / "again.jsonl", "wb") as f:
        f.write(line * (32 * MB // len(line)))
    report = ReadReport()
    kept: list = []
    peak = peak_bytes(lambda: kept.extend(read_unique([tmp_path], report)))
    assert len(kept) == 1 and report.skip_count == 32 * MB // len(line) - 1
    assert len(report.skipped) == MAX_SKIPS_LISTED  # counted, not all listed
    assert peak < 16 * MB  # not the 32 MB file, let alone its decoded copy


@pytest.mark.parametrize("make", ["jsonl", "csv", "csv-multiline", "json", "txt", "gz-txt"])
def test_what_is_over_the_size_limits_is_skipped_with_its_reason(tmp_path, make):
    huge = "word " * (4 * MB // 5)  # 4 MB, over a 1 MB article limit
    small = ReadOptions(max_article_bytes=MB, max_file_bytes=2 * MB)
    if make == "jsonl":
        lines = [json.dumps({**GOOD, "id": "before"}), json.dumps({"title": "Huge", "text": huge}),
                 json.dumps({**GOOD, "id": "after"})]
        (tmp_path / "f.jsonl").write_text("\n".join(lines) + "\n")
        where, expected = "f.jsonl:2", {"before", "after"}
    elif make == "csv":
        (tmp_path / "f.csv").write_text(f"id,title,text\na,Fine,Short text.\nb,Huge,{huge}\n"
                                        "c,After,Read on.\n")
        where, expected = "f.csv:3", {"a", "c"}
    elif make == "csv-multiline":  # a quoted field over many short lines
        body = "line\n" * (2 * MB // 5)
        (tmp_path / "f.csv").write_text(f'id,title,text\na,Fine,Short text.\nb,Huge,"{body}"\n')
        where, expected = "f.csv:3", {"a"}
    elif make == "json":
        (tmp_path / "f.json").write_text(json.dumps([GOOD] * 2 + [{"x": huge}]))
        where, expected = "f.json", set()
    elif make == "txt":
        (tmp_path / "f.txt").write_text("Headline\n" + huge)
        where, expected = "f.txt", set()
    else:
        with gzip.open(tmp_path / "f.txt.gz", "wt") as f:
            f.write("Headline\n" + huge)
        where, expected = "f.txt.gz", set()
    report = ReadReport()
    articles: dict = {}

    def work() -> None:
        for a in read_archive([tmp_path], report, small):
            articles[a.id] = a
    peak = peak_bytes(work)
    assert set(articles) == expected
    why = reasons(report)[where]
    assert "over the" in why and "size limit" in why and ("--max-article-size" in why
                                                           or "--max-file-size" in why)
    assert peak < 12 * MB  # bounded by the limits, not by what the file holds


def test_a_build_over_a_hostile_archive_indexes_the_rest(tmp_path, embedder):
    archive = tmp_path / "archive"
    archive.mkdir()
    good_file(archive)
    (archive / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    os.mkfifo(archive / "pipe.txt")
    (archive / "zero.jsonl").symlink_to("/dev/zero")
    (archive / "x.jsonl").write_text('{"id": "\\ud800", "title": "Half \\udc00", "text": "Ok."}\n')
    with open(os.fsencode(archive) + b"/bad\xff.md", "wb") as f:
        f.write(b"# Odd\n\nBody.")
    result = build_index([archive], tmp_path / "index", embedder=embedder)
    assert result.manifest.articles == 3 and result.report.skip_count == 3


names = st.binary(min_size=1, max_size=12).filter(
    lambda b: b"/" not in b and b"\0" not in b and not b.startswith(b"."))
json_shapes = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    | st.sampled_from(["\ud800", "\udfff x", "a\tb\nc", ""]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["id", "title", "text", "body", "date", "source", "url", "x", "\ud800"]),
        children, max_size=5),
    max_leaves=12)
contents = st.one_of(
    st.binary(max_size=400),
    json_shapes.map(lambda v: json.dumps(v, allow_nan=True).encode("utf-8", "surrogatepass")),
    st.lists(json_shapes, max_size=4).map(lambda vs: "\n".join(
        json.dumps(v) for v in vs).encode()),
    st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),
    st.text(alphabet=string.printable + "é\u2028", max_size=300).map(str.encode))


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(files=st.lists(st.tuples(names, st.sampled_from(sorted(FORMATS) + [".jsonl.gz", ".bin"]),
                                contents), min_size=1, max_size=4, unique_by=lambda f: f[0]))
def test_any_names_bytes_and_json_shapes_are_read_or_skipped_with_a_reason(tmp_path_factory,
                                                                            files):
    folder = tmp_path_factory.mktemp("hostile")
    written = set()
    for name, suffix, data in files:
        path = os.fsencode(folder) + b"/" + name + suffix.encode()
        with open(path, "wb") as f:
            f.write(gzip.compress(data) if suffix.endswith(".gz") else data)
        written.add(os.fsdecode(path))
    report = ReadReport()
    articles = list(read_archive([folder], report))  # nothing escapes a reader
    assert len(articles) == report.articles and report.skip_count == len(report.skipped)
    assert all(s.reason and s.where for s in report.skipped)
    for text in [a.id + a.title + a.text + a.origin for a in articles] + \
            [s.where + s.reason for s in report.skipped]:
        text.encode("utf-8")  # no lone surrogate left: a database and a terminal take it
    # Every file is accounted for: it gave an article, or it is named by a skip.
    from indexer.articles import printable
    wheres = [a.origin for a in articles] + [s.where for s in report.skipped]
    for name in map(printable, written):
        assert any(w == name or w.startswith((name + ":", name + "[")) for w in wheres), \
            (name, wheres)


if sys.platform == "win32":  # pragma: no cover - FIFOs and symlinks are POSIX here
    pytestmark = pytest.mark.skip(reason="POSIX file types")
