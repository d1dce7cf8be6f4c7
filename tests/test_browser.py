"""A person at the search page, in a real headless Chromium against `news-search serve`.

Uses Debian's /usr/bin/chromium (`.ci/run` installs it); nothing downloads a browser. On a
failure the page is saved to tests/screenshots/. The README's screenshots (docs/screenshots/)
are taken here, so that they show the page as it is.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from helpers import ALEPPO_QUESTION, STORM_STORY, free_port, serve, wait_until_up

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parent / "screenshots"
DOCS_SHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
# CI sets NEWS_SEARCH_REQUIRE_BROWSER=1 so that a missing browser or playwright fails instead
# of skipping.
REQUIRED = bool(os.environ.get("NEWS_SEARCH_REQUIRE_BROWSER"))

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not REQUIRED,
    reason="needs Debian's chromium (apt-get install chromium)")


@pytest.fixture(scope="module")
def base_url(archive_index, tmp_path_factory):
    port = free_port()
    log_path = tmp_path_factory.mktemp("browser") / "server.log"
    with open(log_path, "w") as log:
        proc = serve(archive_index, port, log)
        base = f"http://127.0.0.1:{port}"
        wait_until_up(proc, base, log_path)
        yield base
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    if REQUIRED:
        import playwright.sync_api as sync_api
    else:
        sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield browser
        browser.close()


@pytest.fixture()
def page(browser, request):
    page = browser.new_page(viewport={"width": 1000, "height": 1200})
    console_errors: list[str] = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    page.console_errors = console_errors  # a test that asks for a 4xx page takes its error off
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{request.node.name}.png"), full_page=True)
    page.close()
    assert not console_errors, console_errors  # no CSP violation, no broken resource


def test_typing_a_question_shows_the_answer(page, base_url):
    page.goto(base_url + "/")
    page.fill("input[name=q]", ALEPPO_QUESTION)
    page.keyboard.press("Enter")
    page.wait_for_selector("li.result")
    first = page.locator("li.result").first
    assert first.locator("h2").inner_text() == "Syria rebels reject Aleppo exit as army advances"
    assert "15,000" in first.locator("strong.best").inner_text()
    assert "AFP" in first.locator(".meta").inner_text()
    assert page.input_value("input[name=q]") == ALEPPO_QUESTION  # the question stays in the box
    assert "1 story matches it" in page.locator(".summary").inner_text()  # the seed's alone
    assert page.locator(".timeline svg").count() == 0  # one story: no chart to draw


def test_the_outlet_filter_narrows_the_results(page, base_url):
    page.goto(base_url + "/?q=news")
    page.select_option("select[name=source]", "Wire Service")
    page.click("button[type=submit]")
    page.wait_for_selector("li.result")
    outlets = page.locator("li.result .source").all_inner_texts()
    assert outlets and set(outlets) == {"Wire Service"}
    assert "source=Wire+Service" in page.url
    page.goto(base_url + "/?q=news&source=wire")  # a name as a person types it
    assert set(page.locator("li.result .source").all_inner_texts()) == {"Wire Service"}
    assert page.goto(base_url + "/?q=news&source=CNN").status == 400  # none: the known named
    assert "no outlet 'CNN' in this index" in page.locator(".error").inner_text()
    assert "Wire Service" in page.locator(".error").inner_text()
    page.console_errors.remove("Failed to load resource: the server responded with a status "
                               "of 400 (BAD REQUEST)")


def test_the_results_download_whole_as_csv_and_json_lines(browser, base_url):
    import csv
    import io
    import json

    page = browser.new_page(accept_downloads=True)
    try:
        page.goto(base_url + "/?q=year&k=3")
        total = int(page.locator(".export").inner_text().split("the ")[1].split()[0])
        with page.expect_download() as csv_download:
            page.locator(".export").get_by_text("CSV").click()
        with page.expect_download() as jsonl_download:
            page.locator(".export").get_by_text("JSON Lines").click()
        rows = list(csv.DictReader(io.StringIO(csv_download.value.path().read_text("utf-8-sig"))))
        lines = [json.loads(line)
                 for line in jsonl_download.value.path().read_text().splitlines()]
    finally:
        page.close()
    assert csv_download.value.suggested_filename == "news-search-year.csv"
    assert len(rows) == len(lines) == total > 3  # all that match, not the page of 3
    assert [r["article_id"] for r in rows] == [x["article_id"] for x in lines]
    assert [int(r["rank"]) for r in rows] == list(range(1, total + 1))


def test_many_questions_pasted_at_once_are_answered(page, base_url):
    page.goto(base_url + "/")
    page.get_by_text("Many questions at once").click()
    page.fill("textarea[name=questions]", f"{ALEPPO_QUESTION}\nharbour bridge closed\n")
    page.get_by_text("Answer them").click()
    page.wait_for_selector(".batch-answers")
    questions = page.locator(".batch-answers > li > h2").all_inner_texts()
    assert questions == [ALEPPO_QUESTION, "harbour bridge closed"]
    first = page.locator(".batch-answers > li").first
    assert "15,000" in first.locator(".passage").first.inner_text()
    first.locator(".answers a").first.click()  # to the article, at its passage
    page.wait_for_selector("article.full")
    assert page.url.endswith("#match")


def test_read_the_whole_article_opens_at_the_passage_that_matched(page, base_url):
    page.set_viewport_size({"width": 1000, "height": 600})
    page.goto(base_url + "/?q=" + ALEPPO_QUESTION.replace(" ", "+"))
    page.locator("li.result").first.get_by_text("Read the whole article").click()
    page.wait_for_selector("article.full")
    assert page.url.endswith("#match")
    assert page.locator("h1").inner_text() == "Syria rebels reject Aleppo exit as army advances"
    assert "15,000" in " ".join(page.locator(".matched").all_inner_texts())
    assert page.evaluate("window.scrollY") > 0  # scrolled down to it
    box = page.locator("#match").bounding_box()
    assert 0 <= box["y"] < 600  # the paragraph of the passage shown is in view


def test_the_landing_page_says_what_it_searches(page, base_url):
    page.goto(base_url + "/")
    text = page.locator(".holdings").inner_text()
    assert text.startswith("Searching ") and " articles from " in text and " outlets" in text


def test_a_timeline_bar_lists_the_stories_it_counts(page, base_url):
    page.goto(base_url + "/?q=year")
    assert page.locator(".timeline .axis span").count() >= 2  # labelled
    bars = page.locator(".timeline a")
    counts = [int(t.split(": ")[1].split()[0]) for t in
              page.locator(".timeline a title").all_text_contents()]
    busy = next(i for i, n in enumerate(counts) if n)  # a period that has stories
    bars.nth(busy).click()
    page.wait_for_load_state()
    assert "since=" in page.url and "until=" in page.url and "match=true" in page.url
    assert page.locator("li.result").count() == counts[busy]


@pytest.mark.parametrize("width, name", [(1000, "desktop"), (390, "phone")])
def test_the_results_page_reads_well_on_desktop_and_phone(page, base_url, width, name):
    """Nothing runs off the side of the screen, and the README's screenshots are taken."""
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(base_url + "/?q=" + ALEPPO_QUESTION.replace(" ", "+"))
    page.wait_for_selector("li.result")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.locator("li.result strong.best").first.is_visible()
    DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
    # The time taken changes from run to run; a fixed one keeps the committed image unchanged.
    page.evaluate("document.querySelector('.took').textContent = '12 ms'")
    page.screenshot(path=str(DOCS_SHOTS / f"results-{name}.png"))


@pytest.fixture(scope="module")
def watched(tmp_path_factory, embedder):
    """A server over a private index of a copy of the archive (a watch writes beside it)."""
    from helpers import copy_archive
    from indexer import build_index

    root = tmp_path_factory.mktemp("watched")
    archive, index = root / "archive", root / "index"
    copy_archive(archive)
    build_index([archive], index, embedder=embedder)
    port = free_port()
    with open(root / "server.log", "w") as log:
        proc = serve(index, port, log)
        base = f"http://127.0.0.1:{port}"
        wait_until_up(proc, base, root / "server.log")
        yield base, archive, index
        proc.terminate()
        proc.wait(timeout=30)


def test_a_search_watched_from_the_page_lists_what_an_update_brings(page, watched):
    import subprocess
    import sys

    from helpers import ROOT

    base, archive, index = watched
    page.goto(base + "/?q=storm+damage+at+the+harbour")
    page.fill(".watch-form input[name=name]", "harbour")
    page.locator(".watch-form").get_by_text("Watch", exact=True).click()
    page.wait_for_selector("h1")
    assert page.locator("h1").inner_text() == "Watch harbour"
    assert "Nothing new yet" in page.locator("main").inner_text()
    (archive / "storm.txt").write_text(STORM_STORY)
    update = subprocess.run([sys.executable, "-m", "webapp.cli", "index", str(archive),
                             "--update", "--index-dir", str(index)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert update.returncode == 0 and "Watch harbour: " in update.stdout, update.stderr
    page.goto(base + "/")
    page.get_by_text("Watches", exact=True).click()
    page.get_by_role("link", name="harbour", exact=True).click()
    findings = page.locator(".findings > li a").all_inner_texts()
    assert "Storm floods the harbour" in findings
    feed = page.request.get(base + page.get_by_text("Atom feed").get_attribute("href"))
    assert feed.ok and "<title>Storm floods the harbour</title>" in feed.text()
