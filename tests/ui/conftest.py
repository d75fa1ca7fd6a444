"""A headless Chromium for the web UI's browser tests (Debian's chromium and
chromium-driver; Selenium is pointed at both, so Selenium Manager never downloads one).

Without them and without ``CI`` the browser tests skip with one line saying why; in CI
(``.ci/run`` installs both) a missing browser fails them instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def _find(env: str, *names: str) -> str | None:
    if os.environ.get(env):
        return os.environ[env]
    return next((p for p in map(shutil.which, names) if p), None)


def _browser() -> tuple[str, str] | str:
    """(chromium, chromedriver), or why there is none."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    binary = _find("WFE_CHROMIUM", "chromium", "chromium-browser")
    driver = _find("WFE_CHROMEDRIVER", "chromedriver")
    if not binary or not driver:
        return "no Chromium here (apt-get install chromium chromium-driver)"
    return binary, driver


@pytest.fixture
def chrome(tmp_path: Path):
    found = _browser()
    if isinstance(found, str):
        if os.environ.get("CI"):
            pytest.fail(f"CI is set and the browser tests cannot run: {found}", pytrace=False)
        pytest.skip(f"browser tests skipped: {found}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = found[0]
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1280,800"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=found[1]), options=opts)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def ui_link(daemon) -> str:
    """What `wfe ui --no-browser` prints: the one-time sign-in link."""
    out = subprocess.run([sys.executable, "-m", "wfe", "ui", "--no-browser"], env=daemon.env,
                         capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.strip().splitlines()[-1]


def shoot(driver, name: str) -> None:
    """A screenshot for the README, only when asked (WFE_SCREENSHOTS=docs), so a normal
    run never rewrites the committed pictures."""
    where = os.environ.get("WFE_SCREENSHOTS")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(where) / f"ui-{name}.png"))
