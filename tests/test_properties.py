"""Property tests: any text, any record, any bytes in any file type: no crash, nothing lost."""

from __future__ import annotations

import json
import re
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer import Article, ReadReport, RecordError, chunk_article, make_article, read_archive
from indexer.articles import clean_text
from indexer.reading.report import FORMATS

WORD = re.compile(r"\S+")
words = st.text(alphabet=string.ascii_letters + "éøß0123456789,'-’", min_size=1, max_size=12)
sentence = st.builds(lambda ws, end: " ".join(ws) + end, st.lists(words, min_size=1, max_size=40),
                     st.sampled_from([".", "!", "?", "", "...", ".”", " Mr."]))
prose = st.builds(lambda ss, sep: sep.join(ss), st.lists(sentence, min_size=1, max_size=30),
                  st.sampled_from([" ", "\n\n", "  ", " \n"]))


@settings(max_examples=300, deadline=None)
@given(text=prose, max_words=st.integers(1, 120), overlap=st.integers(0, 3))
def test_passages_cover_the_text_with_true_offsets_and_bounded_size(text, max_words, overlap):
    text = clean_text(text)
    article = Article("a", "Title", text)
    passages = chunk_article(article, max_words, overlap)
    covered = [False] * len(text)
    for p in passages:
        assert text[p.start:p.end] == p.text
        assert len(WORD.findall(p.text)) <= max_words
        for i in range(p.start, p.end):
            covered[i] = True
    assert all(covered[i] for i, ch in enumerate(text) if not ch.isspace())
    assert [p.position for p in passages] == list(range(len(passages)))


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=2000))
def test_any_unicode_is_chunked_without_error(text):
    text = clean_text(text)
    passages = chunk_article(Article("a", "T", text))
    if not text:  # a headline with no body is one passage: the headline
        assert [p.text for p in passages] == ["T"]
    for p in passages if text else []:
        assert text[p.start:p.end] == p.text


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=500))
def test_cleaning_is_idempotent_and_drops_invisible_characters(text):
    once = clean_text(text)
    assert clean_text(once) == once
    assert "\x00" not in once and "\u200b" not in once and "\r" not in once


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
field_names = st.sampled_from(["id", "title", "headline", "text", "body", "date", "published",
                               "source", "outlet", "url", "link", "other"])


@settings(max_examples=300, deadline=None)
@given(record=st.dictionaries(field_names, json_values, max_size=8))
def test_any_record_becomes_an_article_or_a_record_error(record):
    try:
        article = make_article(record)
    except RecordError as exc:
        assert str(exc)
    else:
        assert article.id and (article.title or article.text)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=st.lists(st.dictionaries(field_names, json_values, max_size=6), min_size=1,
                        max_size=6))
def test_every_record_of_a_file_is_an_article_or_is_skipped_by_its_line(tmp_path_factory, records):
    folder = tmp_path_factory.mktemp("records")
    (folder / "feed.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    report = ReadReport()
    articles = list(read_archive([folder], report))
    lines = sorted(int(s.where.rsplit(":", 1)[1]) for s in report.skipped)
    assert all(s.reason for s in report.skipped)
    assert len(articles) + len(lines) == len(records) and len(set(lines)) == len(lines)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=600), suffix=st.sampled_from(sorted(FORMATS) + [".txt.gz", ".bin"]))
def test_any_bytes_in_any_file_type_are_read_or_skipped_with_a_reason(
    tmp_path_factory, data, suffix
):
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / f"file{suffix}").write_bytes(data)
    report = ReadReport()
    articles = list(read_archive([folder], report))
    assert len(articles) == report.articles
    assert all(s.reason for s in report.skipped)
    assert report.articles > 0 or report.skipped  # a file gives articles or a reason, never nothing


@settings(max_examples=500, deadline=None)
@given(text=st.one_of(st.dates().map(lambda d: d.isoformat() + "T10:00:00Z"),
                      st.dates().map(str), st.text(alphabet="0123456789-:T /٣", max_size=14)))
def test_day_numbers_of_dates_are_strptimes(text):
    """The fast ISO path reads every stored date as strptime("%Y-%m-%d") does, NaN where it
    fails or falls outside the years kept."""
    import math
    from datetime import datetime

    from indexer.dates import FIRST_YEAR, LAST_YEAR
    from indexer.dates import day_number as _day_number

    try:
        parsed = datetime.strptime(text[:10], "%Y-%m-%d")
        expected = float(parsed.toordinal()) if FIRST_YEAR <= parsed.year <= LAST_YEAR \
            else float("nan")
    except ValueError:
        expected = float("nan")
    got = _day_number(text)
    assert got == expected or (math.isnan(got) and math.isnan(expected))


# Words whose stems are hard on the highlighter's shortcut (see highlight.matched_words): the
# stem's last letter changed or added, "ying" after one consonant, joined words, numbers, and
# letters outside ASCII (those texts stem every word).
TRICKY = ("dying lying ties tying vying eying skies hoping hopping ability usability early "
          "notably organization relational sensitivity generously U.S. o'neill Aleppo’s 1,000 "
          "3.5 rock’n’roll don't Mr. résumé Café naïve ZQ-8812 zq mad a I us US ads adding "
          "“quoted” news atlas idly gently only singly ugly cries studies").split()
prose_words = st.one_of(st.sampled_from(TRICKY), words)


@settings(max_examples=400, deadline=None)
@given(chosen=st.lists(prose_words, min_size=1, max_size=40),
       joiners=st.lists(st.sampled_from([" ", " ", ", ", ". ", "'", "’", ".", "-", "\n\n", " “"]),
                        min_size=40, max_size=40),
       asked=st.lists(st.integers(0, 39), min_size=1, max_size=6),
       other=st.lists(prose_words, max_size=3))
def test_highlighted_words_are_every_word_whose_stem_was_asked(chosen, joiners, asked, other):
    """The highlighter's shortcut (stemming only the words that can match) marks exactly the
    words that stemming every word of the text would."""
    from indexer.search.highlight import highlight
    from indexer.terms import WORD, query_stems, word_stem

    text = "".join(w + j for w, j in zip(chosen, joiners)).strip()
    stems = query_stems(" ".join([chosen[i % len(chosen)] for i in asked] + other))
    expected = tuple((m.start(), m.end()) for m in WORD.finditer(text)
                     if word_stem(m.group()) in stems)
    assert highlight(text, stems).terms == expected


_PLAIN_CANDIDATE = re.compile(r"""[.!?…]+["'”’)\]]*(?=\s+["'“‘(\[]?[A-Z0-9])|\n\s*\n""")


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(prose, st.text(alphabet=".!?…\n \"'”’“‘()[]AZaz09M", max_size=80)))
def test_sentence_ends_are_found_where_the_plain_pattern_finds_them(text):
    """The sentence splitter's pattern, written to start with one character class for speed,
    matches what the plain alternation of its two cases matches."""
    from indexer.chunking import _CANDIDATE

    assert [m.span() for m in _CANDIDATE.finditer(text)] == \
        [m.span() for m in _PLAIN_CANDIDATE.finditer(text)]
