"""Chunking: whole sentences, bounded size, overlap, and offsets that point into the article."""

from __future__ import annotations

import re

import pytest

from helpers import DATA
from indexer import Article, chunk_article
from indexer.chunking import embedding_text, sentence_spans

WORDS = re.compile(r"\S+")


def article(text: str, title: str = "Headline") -> Article:
    return Article(id="a1", title=title, text=text)


def test_sentences_split_on_punctuation_not_on_abbreviations_or_decimals():
    text = ("Mr. Smith met Dr. Jones at 10 a.m. on Monday. Prices rose 3.5 percent in the U.S. "
            "economy! Did it work? “Yes,” she said.\n\nA new paragraph without a full stop")
    sentences = [text[s:e] for s, e in sentence_spans(text)]
    assert sentences == [
        "Mr. Smith met Dr. Jones at 10 a.m. on Monday.",
        "Prices rose 3.5 percent in the U.S. economy!",
        "Did it work?",
        "“Yes,” she said.",
        "A new paragraph without a full stop",
    ]


def test_passages_are_whole_sentences_within_the_word_limit_with_true_offsets():
    sentences = [f"Sentence number {i} has exactly seven words." for i in range(40)]
    text = " ".join(sentences)
    passages = chunk_article(article(text), max_words=30, overlap=1)
    assert len(passages) > 5
    for i, p in enumerate(passages):
        assert p.position == i and p.article_id == "a1"
        assert text[p.start:p.end] == p.text
        assert len(WORDS.findall(p.text)) <= 30
        assert p.text.startswith("Sentence") and p.text.endswith("words.")
    for before, after in zip(passages, passages[1:]):  # one sentence of overlap
        assert (
            before.text.rsplit("Sentence", 1)[-1] == after.text.split("words.", 1)[0][8:] + "words."
        )
        assert after.start < before.end


def test_every_sentence_is_in_some_passage():
    text = " ".join(f"Fact {i} is stated here." for i in range(101))
    passages = chunk_article(article(text), max_words=20, overlap=0)
    covered = " ".join(p.text for p in passages)
    for i in range(101):
        assert f"Fact {i} is" in covered
    assert passages[-1].end == len(text)


def test_a_sentence_longer_than_the_limit_is_cut_into_pieces():
    text = " ".join(f"word{i}" for i in range(250))
    passages = chunk_article(article(text), max_words=100, overlap=0)
    assert [len(WORDS.findall(p.text)) for p in passages] == [100, 100, 50]
    assert all(text[p.start:p.end] == p.text for p in passages)


def test_a_headline_only_article_is_one_passage():
    (p,) = chunk_article(article("", title="As it happened"))
    assert p.text == "As it happened"


def test_headline_gives_context_to_the_embedded_text():
    assert embedding_text("Bridge closed", "Engineers found cracks.") == \
        "Bridge closed.\nEngineers found cracks."
    assert embedding_text("", "Body") == "Body"


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        chunk_article(article("Text."), max_words=0)


def test_an_articles_stored_sentences_are_its_passages_own():
    from indexer.chunking import Layout, opening

    for path in sorted((DATA / "archive").rglob("*.txt"))[:8]:
        text = path.read_text("utf-8")
        article = Article(id=path.stem, title="t", text=text)
        layout = Layout.of(text)
        assert list(layout.sentences) == sentence_spans(text)
        assert (layout.lead_end, layout.lead_words) == opening(text[:600], len(text) < 600)
        assert Layout.unpacked(layout.packed(), layout.lead_end, layout.lead_words) == layout
        for p in chunk_article(article, max_words=12):  # long sentences cut into pieces too
            if p.end > p.start:
                assert layout.within(p.start, p.end) == sentence_spans(p.text), p.text
