"""The news-search CLI through click's runner: index, search, and clear one-line errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from helpers import ALEPPO_QUESTION, ARCHIVE, DATA, ROOT, SEEDS, free_port
from webapp.cli import main


@pytest.fixture()
def run():
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return invoke


@pytest.mark.slow
def test_index_prints_what_it_read_skipped_and_built(run, tmp_path):
    result = run("index", SEEDS, ARCHIVE, "--index-dir", tmp_path / "ix")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Read 7 files: 11 articles, 2 skipped" in out
    assert (
        "wire.jsonl:3: invalid JSON" in out
        and "wire.jsonl:4: no headline and no article text" in out
    )
    assert "passages/s" in out and "Embedded " in out and "Built " in out


def test_search_prints_ranked_passages_and_json(run, seeds_index):
    result = run("search", ALEPPO_QUESTION, "--k", "3", "--index-dir", seeds_index)
    assert result.exit_code == 0
    assert result.output.startswith("1. Syria rebels reject Aleppo exit as army advances")
    assert "AFP · 2016-12-05" in result.output and "15,000" in result.output
    assert "(+8 more passages from this article)" in result.output
    data = json.loads(run("search", ALEPPO_QUESTION, "--json", "--group", "passage",
                          "--index-dir", seeds_index).output)
    assert data["results"][0]["article"]["source"] == "AFP" and len(data["results"]) == 9


def test_search_marks_the_answer_in_bold_on_a_terminal_and_names_the_article(seeds_index):
    first = json.loads(CliRunner().invoke(main, ["search", ALEPPO_QUESTION, "--json", "--index-dir",
                                                 str(seeds_index)]).output)["results"][0]
    start, end = first["highlights"]["sentence"]
    answer = " ".join(first["text"][start:end].split())
    shown = CliRunner().invoke(main, ["search", ALEPPO_QUESTION, "--k", "1", "--index-dir",
                                      str(seeds_index)], color=True).output
    bold = re.findall(r"\x1b\[1m(.*?)\x1b\[0m", shown)
    assert " ".join(bold[1:]) == answer  # the first bold run is the headline
    assert f"· {first['article']['id']}\n" in shown
    assert "\x1b[" not in CliRunner().invoke(main, ["search", ALEPPO_QUESTION, "--index-dir",
                                                   str(seeds_index)]).output  # not a terminal


@pytest.mark.parametrize("args, message", [
    (("search", "x", "--index-dir", "{tmp}/none"), "no index in"),
    (("search", "   ", "--index-dir", "{seeds}"), "the query is empty"),
    (("search", "x", "--k", "0", "--index-dir", "{seeds}"), "0 is not in the range 1<=x<=100"),
    (("search", "x", "--model", "other", "--index-dir", "{seeds}"), "built with model"),
    (("index", "{tmp}/missing", "--index-dir", "{tmp}/ix"), "no such file or folder"),
    (("index", "{tmp}/emptydir", "--index-dir", "{tmp}/ix"), "no articles found"),
])
def test_errors_are_one_clear_line_and_a_nonzero_exit(run, tmp_path, seeds_index, args, message):
    (tmp_path / "emptydir").mkdir()
    args = [a.format(tmp=tmp_path, seeds=seeds_index) for a in args]
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0
    assert message in result.output and result.output.count("Error:") == 1
    assert "Traceback" not in result.output
    # click's own exit for a handled error; an exception that escaped would be held here instead
    assert type(result.exception) is SystemExit, result.exception

def test_timeline_prints_a_histogram(run, archive_index):
    result = run("timeline", "hours", "--interval", "year", "--index-dir", archive_index)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    matching = int(lines[0].split()[0])  # the library's, the bridge's, the marathon's at least
    assert matching >= 3 and lines[0].endswith("stories match 'hours' by meaning or words")
    counts = [int(line.split()[1]) for line in lines[1:] if line[:4].isdigit()]
    assert ["undated", "1"] in [line.split() for line in lines]  # the marathon's
    assert sum(counts) + 1 == matching and "#" in result.output
    assert any(line.startswith("Top outlets: ") for line in lines)


@pytest.mark.parametrize("command", [
    ("search", "Aleppo", "--index-dir", "{seeds}"),
    ("timeline", "Aleppo", "--index-dir", "{seeds}"),
    ("eval", str(DATA / "beir-mini"), "--mode", "keyword", "--index-dir", "{tmp}/eval-ix"),
])
def test_json_output_is_json_alone_on_stdout(command, seeds_index, tmp_path):
    """`... --json | jq` works: what a command says meanwhile (eval builds its index, with the
    model's loading and progress) goes to standard error."""
    args = [a.format(seeds=seeds_index, tmp=tmp_path) for a in command]
    done = subprocess.run([sys.executable, "-m", "webapp.cli", *args, "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert isinstance(json.loads(done.stdout), dict)
    if command[0] == "eval":
        assert "Loading the model" in done.stderr  # it built the index, and said so elsewhere


def test_an_index_into_a_milvus_that_does_not_answer_fails_before_building(tmp_path):
    pytest.importorskip("pymilvus")
    address = f"milvus://127.0.0.1:{free_port()}/news"
    result = CliRunner().invoke(main, ["index", str(SEEDS), "--index-dir", str(tmp_path / "ix"),
                                       "--backend", address])
    assert result.exit_code != 0 and "cannot reach Milvus at" in result.output
    assert result.output.count("Error:") == 1 and "Traceback" not in result.output
    assert not (tmp_path / "ix").exists()  # nothing read, embedded or built first


def test_a_question_that_begins_with_a_minus_is_the_question(run, archive_index):
    # The query syntax's "-word" excludes; click took "-Aleppo army" for options ("-A").
    plain = run("search", "-Aleppo army", "--json", "--index-dir", archive_index)
    after = run("search", "--json", "--index-dir", archive_index, "--", "-Aleppo army")
    assert plain.exit_code == 0, plain.output
    assert json.loads(plain.output)["query"] == "-Aleppo army"
    assert json.loads(plain.output)["results"] == json.loads(after.output)["results"]
    compared = run("timeline", "army", "--compare", "-Aleppo army", "--index-dir", archive_index)
    assert compared.exit_code == 0 and "B: -Aleppo army" in compared.output
    alone = CliRunner().invoke(main, ["search", "-Aleppo", "--index-dir", str(archive_index)])
    assert alone.exit_code != 0 and "goes after '--', as in -- '-Aleppo'" in alone.output


def test_a_page_past_the_last_says_where_the_results_end(run, archive_index):
    whole = json.loads(run("search", "Aleppo", "--json", "--index-dir", archive_index).output)
    last = -(-whole["total"] // 10)
    past = run("search", "Aleppo", "--page", "99", "--index-dir", archive_index)
    assert f"Page 99 is past the end: the {whole['total']} results end on page {last} " \
           f"(--page {last})." in past.output and "Nothing found" not in past.output
