"""Debian's Chromium driven by Playwright, for the tests that use a real browser.

Playwright is given the path of the system's Chromium (the ``chromium``
package), so the tests download no browser and run without internet access.
Without Chromium or Playwright the browser tests skip, or fail when
``MODERATION_REQUIRE_SERVICES=1`` says they must run.
"""
from __future__ import annotations

import os
from contextlib import contextmanager

from conftest import require

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying to reach outside hosts.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}


def require_browser() -> None:
    """Skip without Playwright or Chromium, or fail when CI says they must be there."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        require("Playwright for Python", False, "pip install -e '.[test]'")
    require("Chromium", os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK),
            f"{CHROMIUM} is missing (apt-get install chromium)")


def launch(playwright):
    """The system's Chromium, headless."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@contextmanager
def chromium():
    """Playwright with the system's Chromium, for a module-scoped ``browser`` fixture."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            yield browser
        finally:
            browser.close()
