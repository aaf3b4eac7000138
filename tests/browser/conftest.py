"""Headless Chromium from Debian's packages, driven by selenium through the system
chromedriver: nothing is downloaded at test time. Screenshots go to test-artifacts/screenshots/.

`make test` installs the browser (as root) or names the command that does; without it the
browser tests fail, saying so.
"""

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from tests.system import program

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGUMENTS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-sync",
    "--no-first-run",
    "--disable-component-update",
    "--disable-extensions",
    "--window-size=1400,1000",
)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keeps each phase's report on the test, so a fixture can tell that the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebDriver]:
    chromium = os.environ.get("CHROMIUM_BINARY") or program("chromium", "chromium")
    chromedriver = os.environ.get("CHROMEDRIVER_BINARY") or program(
        "chromedriver", "chromium-driver"
    )
    monkeypatch.setenv("SE_OFFLINE", "true")  # never let selenium look for a driver online
    options = Options()
    options.binary_location = chromium
    for argument in (*CHROMIUM_ARGUMENTS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(argument)
    service = Service(executable_path=chromedriver, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


class Screenshots:
    """Numbered PNGs of a test's steps: test-artifacts/screenshots/<test>-<nn>-<step>.png."""

    def __init__(self, driver: WebDriver, test_name: str) -> None:
        self.driver = driver
        self.prefix = re.sub(r"[^A-Za-z0-9_-]+", "-", test_name).strip("-")
        self.taken: list[Path] = []
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for old in SCREENSHOTS.glob(f"{self.prefix}-*"):
            old.unlink()

    def take(self, step: str) -> Path:
        path = SCREENSHOTS / f"{self.prefix}-{len(self.taken) + 1:02d}-{step}.png"
        assert self.driver.save_screenshot(str(path)), f"no screenshot saved at {path}"
        self.taken.append(path)
        return path


@pytest.fixture
def screenshots(browser: WebDriver, request: pytest.FixtureRequest) -> Iterator[Screenshots]:
    shots = Screenshots(browser, request.node.name)
    yield shots
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:  # what the browser showed when it failed
        shots.take("failure")
        (SCREENSHOTS / f"{shots.prefix}-failure.html").write_text(browser.page_source)
