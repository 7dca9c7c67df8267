"""End to end in headless Chromium: upload an example, analyse it, and check that every panel of the
dashboard renders; a screenshot of each tab goes to test-output/app_browser/.

Needs Debian's ``chromium`` and the ``playwright`` package (requirements-dev.txt). Without them the test
is skipped, unless PORESEG_REQUIRE_BROWSER=1 (set by .ci/run), which turns the skip into a failure.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from conftest import REPO_ROOT, requires_weights, running_app

CLOSE_UP = REPO_ROOT / "examples" / "lisa_15cm.jpg"
SCREENSHOTS = REPO_ROOT / "test-output" / "app_browser"
PHONE = {"width": 390, "height": 844}
WAIT_MS = 60_000  # for one analysis on a busy 2-core machine
pytestmark = [requires_weights("face_parser"), requires_weights("portrait"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")]


@pytest.fixture(scope="module")
def chromium() -> str:
    """The path of the chromium executable (checked before the app is launched)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    problem = None if path else "chromium is not installed (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "playwright is not installed (pip install -r requirements-dev.txt)"
    if problem:
        if os.environ.get("PORESEG_REQUIRE_BROWSER") == "1":
            pytest.fail(f"the browser test must run here: {problem}")
        pytest.skip(problem)
    return path


@pytest.fixture(scope="module")
def app_url(chromium):  # no app to launch when there is no browser to look at it
    with running_app() as url:
        yield url


@pytest.fixture
def page(chromium, app_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # --no-sandbox: CI containers run as root, where Chromium refuses its sandbox.
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(app_url)
        try:
            yield page
        finally:
            browser.close()


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    page.screenshot(path=SCREENSHOTS / f"{name.replace('/', '-').lower()}.png", full_page=True)


def loaded_image(page, selector: str) -> dict:
    """Waits until the picture under ``selector`` has loaded; its natural size and URL."""
    image = page.locator(f"{selector} img").first
    image.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    return image.evaluate("img => ({width: img.naturalWidth, height: img.naturalHeight, src: img.src})")


def test_every_panel_renders(page, app_url):
    import app

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    outside = []
    page.on("request", lambda request: outside.append(request.url)
            if not request.url.startswith((app_url, "data:", "blob:")) else None)
    sessions_before = set(Path(app.demo.GRADIO_CACHE).glob("poreseg-*"))

    page.get_by_role("radio", name="DoGPore").check()  # PS-Net may not be trained yet
    page.locator("input[type=file]").first.set_input_files(str(CLOSE_UP))
    page.get_by_role("button", name="Analyse").click()
    page.wait_for_function("document.querySelector('#status').innerText.includes('Analysed')")
    assert "1 face" in page.locator("#status").inner_text()

    # Overview: the score, the zone table with the whole face, the scale.
    page.wait_for_function("document.querySelector('#score').innerText.includes('Pore score')")
    assert "whole face" in page.locator("#zones-table").inner_text()
    open_tab(page, "Overview")

    page.get_by_role("tab", name="Masks").click()
    width, height = 1152, 1536  # the close-up's size: the overlays are shown at full resolution
    for selector in ("#parsing-image", "#pores-image", "#zones-image"):
        shown = loaded_image(page, selector)
        assert (shown["width"], shown["height"]) == (width, height), selector
    assert loaded_image(page, "#cutout-image")["width"] > 0
    assert page.locator("#zoom img").count() == 5
    before_toggle = loaded_image(page, "#parsing-image")["src"]
    page.get_by_role("checkbox", name="skin").uncheck()
    page.wait_for_function("src => { const img = document.querySelector('#parsing-image img');"
                           " return img && img.src !== src && img.complete; }", arg=before_toggle)
    open_tab(page, "Masks")

    page.get_by_role("tab", name="Heatmap").click()
    page.locator("#density-plot .js-plotly-plot .heatmaplayer").first.wait_for()
    assert page.locator("#scores-plot .js-plotly-plot .barlayer .point").count() == 6  # 5 zones + face
    open_tab(page, "Heatmap")

    page.get_by_role("tab", name="Before/after").click()
    page.locator("#product input").click()
    page.get_by_role("option", name="Retinoid (adapalene 0.1% gel or retinol 0.3%)").click()
    page.wait_for_function("document.querySelectorAll('#after-slider img').length === 2")
    page.wait_for_function("document.querySelector('#after-table').innerText.includes('pores after')")
    open_tab(page, "Before/after")

    page.get_by_role("tab", name="Suggestions").click()
    suggestions = page.locator("#suggestions-table").inner_text()
    assert "sunscreen" in suggestions and "Daily basics" in suggestions
    assert page.get_by_text("not medical advice").is_visible()
    open_tab(page, "Suggestions")

    page.get_by_role("tab", name="Report").click()
    page.wait_for_function("!document.querySelector('#download-png').disabled")
    with page.expect_download() as download:
        page.locator("#download-json").click()
    report = json.loads(Path(download.value.path()).read_text())
    assert report["schema"] == 1 and report["method"] == "dog"
    with page.expect_download() as download:
        page.locator("#download-png").click()
    assert Path(download.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    open_tab(page, "Report")

    # On a phone the two columns stack: the results come below the photo.
    page.set_viewport_size(PHONE)
    # (the tab strip itself, not one tab: on a narrow screen Gradio moves later tabs into a menu)
    photo, tabs = page.locator("#status").bounding_box(), page.locator("#results").bounding_box()
    assert tabs["y"] > photo["y"] + photo["height"]
    assert tabs["x"] >= 0 and tabs["x"] + tabs["width"] <= PHONE["width"]
    page.screenshot(path=SCREENSHOTS / "phone.png", full_page=True)

    assert outside == [], "the page fetched something from outside the app"

    # Closing the tab drops the session's files at once.
    sessions = set(Path(app.demo.GRADIO_CACHE).glob("poreseg-*")) - sessions_before
    assert sessions
    page.close()
    deadline = time.monotonic() + 10
    while any(folder.exists() for folder in sessions) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(folder.exists() for folder in sessions)
