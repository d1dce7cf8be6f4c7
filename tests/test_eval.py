"""The evaluation command: metrics by hand, and a real run over a tiny BEIR collection of ours."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from helpers import DATA
from indexer.features.evaluate import (
    evaluate,
    holds_answer,
    mrr_at,
    ndcg_at,
    normalise_answer,
    recall_at,
)
from webapp.cli import main

MINI = DATA / "beir-mini"
QA = DATA / "qa-mini"  # stories of several passages, with the answer to each question


def test_metrics_against_hand_computed_values():
    judged = {"a": 1, "b": 1}
    assert ndcg_at(["a", "b", "x"], judged) == pytest.approx(1.0)
    assert ndcg_at(["x", "a"], judged) == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert recall_at(["a", "x"], judged) == 0.5
    assert mrr_at(["x", "y", "b"], judged) == pytest.approx(1 / 3)
    assert mrr_at(["x"] * 10 + ["a"], judged) == 0.0  # beyond rank 10


def test_answers_are_matched_lower_cased_without_punctuation():
    assert normalise_answer("  U.S.-backed   Forces, ") == "usbacked forces"
    assert holds_answer("The repairs cost $2.4 million dollars.", ["2.4 million dollars"])
    assert holds_answer("It was the U.S. army", ["the US army"])
    assert not holds_answer("The repairs cost a lot.", ["2.4 million", ""])
    assert not holds_answer("anything at all", ["  .  "])  # nothing left: never a match


def test_eval_scores_answers_on_the_passages_shown(tmp_path, embedder):
    report = evaluate(QA, modes=["hybrid", "keyword"], index_dir=tmp_path / "ix",
                      embedder=embedder)
    assert report.passages > report.articles == 4  # several passages an article
    for row in report.rows:
        assert row.queries == 6
        assert 0 < row.answer_at_1 <= row.answer_at_3 <= row.answer_at_10 <= 1
        # The bold sentence is part of what is shown: it holds the answer no more often.
        assert 0 < row.sentence_at_1 <= row.sentence_at_3 <= row.answer_at_3
        assert row.sentence_at_1 <= row.answer_at_1
    assert report.rows[0].answer_at_1 == 1.0  # hybrid shows each answer first (test_answers)
    plain = evaluate(MINI, modes=["hybrid"], index_dir=tmp_path / "mini", embedder=embedder)
    assert plain.rows[0].answer_at_1 is None  # no answers.jsonl: no answer columns
    assert plain.rows[0].sentence_at_1 is None
    result = CliRunner().invoke(main, ["eval", str(QA), "--index-dir", str(tmp_path / "ix"),
                                       "--mode", "hybrid"], obj={"embedder": embedder})
    assert "| mode | nDCG@10 | Recall@100 | MRR@10 | answer@1 | answer@3 | answer@10 | " \
           "sentence@1 | sentence@3 |" in result.output
    row = report.rows[0]
    assert f"| hybrid | {row.ndcg_at_10:.4f} | {row.recall_at_100:.4f} | {row.mrr_at_10:.4f} | " \
           f"{row.answer_at_1:.4f} | {row.answer_at_3:.4f} | {row.answer_at_10:.4f} | " \
           f"{row.sentence_at_1:.4f} | {row.sentence_at_3:.4f} |" in result.output


def test_eval_scores_every_mode_on_a_real_index(tmp_path, embedder):
    report = evaluate(MINI, index_dir=tmp_path / "ix", embedder=embedder)
    assert [row.mode for row in report.rows] == ["hybrid", "semantic", "keyword", "hybrid-rrf"]
    assert report.articles == 6 and all(row.queries == 5 for row in report.rows)
    by_mode = {row.mode: row for row in report.rows}
    assert by_mode["semantic"].ndcg_at_10 > 0.9  # paraphrased queries: meaning finds them
    assert by_mode["keyword"].recall_at_100 < 1.0  # "borrowing costs go up" shares no word
    for row in report.rows:
        assert 0 <= row.ndcg_at_10 <= 1 and 0 <= row.mrr_at_10 <= 1 and row.median_ms > 0
    again = evaluate(MINI, modes=["keyword"], index_dir=tmp_path / "ix",
                     embedder=embedder)  # index reused
    assert again.build_seconds is None and again.rows[0].ndcg_at_10 == by_mode["keyword"].ndcg_at_10


def test_eval_cli_prints_a_table_and_json(tmp_path, embedder):
    result = CliRunner().invoke(main, ["eval", str(MINI), "--index-dir", str(tmp_path / "ix")],
                                obj={"embedder": embedder})
    assert result.exit_code == 0, result.output
    assert "| mode | nDCG@10 | Recall@100 | MRR@10 | median ms | queries |" in result.output
    assert "| hybrid |" in result.output and "| keyword |" in result.output
    result = CliRunner().invoke(main, ["eval", str(MINI), "--json", "--mode", "semantic",
                                       "--index-dir", str(tmp_path / "ix")],
                                obj={"embedder": embedder})
    assert json.loads(result.stdout)["rows"][0]["mode"] == "semantic"


def test_eval_of_a_folder_that_is_not_a_collection_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["eval", str(tmp_path)])
    assert result.exit_code == 1 and "corpus.jsonl is missing" in result.output


@pytest.mark.parametrize("line, message", [
    ("q1\td1\tabc", "test.tsv:3: the score 'abc' is not a whole number"),
    ("q1\td1", "test.tsv:3: expected query-id, corpus-id, score"),
])
def test_a_malformed_judgement_names_its_file_and_line(tmp_path, line, message):
    import shutil

    shutil.copytree(MINI, tmp_path / "c")
    qrels = tmp_path / "c" / "qrels" / "test.tsv"
    head = qrels.read_text().splitlines()[:2]
    qrels.write_text("\n".join([*head, line]) + "\n")
    result = CliRunner().invoke(main, ["eval", str(tmp_path / "c")])
    assert result.exit_code == 1 and message in result.output, result.output
    assert "Traceback" not in result.output
