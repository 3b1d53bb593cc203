"""Real-browser fixtures: headless Chromium driven by Selenium, shared by every browser test.

    def test_x(open_page, screenshot):
        driver = open_page(path_to_html, fragment="outcome=violation")
        ...
        screenshot("x")            # → build/screenshots/<test name>-x.png (kept as a CI artifact)

The browser is the system's Chromium with its chromium-driver (Debian packages `chromium`,
`chromium-driver`, `fonts-noto-cjk`, installed by .ci/run). Under CI (environment variable `CI`
set, as .ci/run does) a missing browser FAILS the test; elsewhere the test is skipped with the reason.
Override the binaries with POLICYENGINE_CHROMIUM / POLICYENGINE_CHROMEDRIVER and the screenshot folder
with POLICYENGINE_SCREENSHOTS.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("POLICYENGINE_SCREENSHOTS", REPO / "build" / "screenshots"))
WINDOW = (1280, 1000)
# no network, no background services, no first-run UI: the page under test is all the browser does
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", f"--window-size={WINDOW[0]},{WINDOW[1]}")


def _binary(variable: str, *names: str) -> str | None:
    explicit = os.environ.get(variable)
    if explicit:
        return explicit if Path(explicit).exists() else None
    return next((found for found in map(shutil.which, names) if found), None)


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"browser tests need a browser in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session, with a fresh profile that is removed afterwards."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed (pip install '.[test]')")
    chromium = _binary("POLICYENGINE_CHROMIUM", "chromium", "chromium-browser", "google-chrome")
    driver_binary = _binary("POLICYENGINE_CHROMEDRIVER", "chromedriver", "chromium-driver")
    if chromium is None or driver_binary is None:
        _unavailable("Chromium and chromium-driver are not installed (apt-get install chromium chromium-driver "
                     "fonts-noto-cjk)")
    profile = tempfile.mkdtemp(prefix="policyengine-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    try:
        # explicit binaries: Selenium Manager never looks for (or downloads) a driver
        driver = webdriver.Chrome(service=Service(executable_path=driver_binary), options=options)
    except Exception as error:  # a browser that does not start is as absent as one not installed
        shutil.rmtree(profile, ignore_errors=True)
        _unavailable(f"Chromium did not start: {str(error).splitlines()[0] if str(error) else error!r}")
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def open_page(browser):
    """open_page(path, fragment="") loads a local file (file:// URL, optionally with #fragment)."""

    def open_(path: str | Path, fragment: str = ""):
        browser.get(Path(path).resolve().as_uri() + (f"#{fragment}" if fragment else ""))
        return browser

    return open_


@pytest.fixture
def screenshot(browser, request):
    """screenshot(name, full_page=True) saves a PNG under build/screenshots/ and returns its path."""

    def take(name: str = "page", full_page: bool = False) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        target = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', request.node.name)}-{name}.png"
        if full_page:  # grow the window to the document so one image holds the whole page
            height = browser.execute_script("return document.documentElement.scrollHeight")
            browser.set_window_size(WINDOW[0], min(int(height) + 100, 16000))
        try:
            browser.save_screenshot(str(target))
        finally:
            if full_page:
                browser.set_window_size(*WINDOW)
        return target

    return take


@pytest.fixture
def visible(browser):
    """visible(css) → the elements matching the CSS selector that are displayed."""
    from selenium.webdriver.common.by import By

    def find(css: str) -> list:
        return [element for element in browser.find_elements(By.CSS_SELECTOR, css) if element.is_displayed()]

    return find
