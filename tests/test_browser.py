"""A person at the search page, in a real headless Chromium against `news-search serve`.

Uses Debian's /usr/bin/chromium (`.ci/run` installs it); nothing downloads a browser. On a
failure the page is saved to tests/screenshots/.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import ALEPPO_QUESTION, free_port, serve, wait_until_up

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parent / "screenshots"

# CI sets NEWS_SEARCH_REQUIRE_BROWSER=1 so that a missing browser fails instead of skipping.
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("NEWS_SEARCH_REQUIRE_BROWSER"),
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
    assert page.locator(".timeline svg").count() == 1


def test_the_outlet_filter_narrows_the_results(page, base_url):
    page.goto(base_url + "/?q=news")
    page.select_option("select[name=source]", "Wire Service")
    page.click("button[type=submit]")
    page.wait_for_selector("li.result")
    outlets = page.locator("li.result .source").all_inner_texts()
    assert outlets and set(outlets) == {"Wire Service"}
    assert "source=Wire+Service" in page.url


def test_read_the_whole_article_shades_what_matched(page, base_url):
    page.goto(base_url + "/?q=" + ALEPPO_QUESTION.replace(" ", "+"))
    page.locator("li.result").first.get_by_text("Read the whole article").click()
    page.wait_for_selector("article.full")
    assert page.locator("h1").inner_text() == "Syria rebels reject Aleppo exit as army advances"
    assert "15,000" in " ".join(page.locator(".matched").all_inner_texts())


def test_a_timeline_bar_filters_to_its_period(page, base_url):
    page.goto(base_url + "/?q=news")
    page.locator(".timeline a").first.click()
    page.wait_for_load_state()
    assert "since=" in page.url and "until=" in page.url
    assert page.locator("li.result, li.empty").count() >= 1
