"""Debian's Chromium driven by Playwright, for the tests that use a real browser.

Playwright is given the path of the system's Chromium (the ``chromium``
package), so the tests download no browser and run without internet access.
Without Chromium or Playwright the browser tests skip, or fail when
``MODERATION_REQUIRE_SERVICES=1`` says they must run.
"""
from __future__ import annotations

import os
import re
import time
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


class HeldBroadcasts:
    """A page's Socket.IO WebSocket routed through the test (Playwright's
    ``route_web_socket``): while held, the server's events to the page
    (``change``, ``snapshot``: Socket.IO EVENT packets) are kept back, in
    order, and everything else passes, acknowledgements included (or, with
    ``hold(everything=True)``, they are kept back too). The page then acts
    on a view that another client has made stale, as it would when that
    client's change is still on its way; ``release`` delivers what was
    kept. Create it before the page opens its connection."""

    EVENT = "42"  # Engine.IO message (4) carrying a Socket.IO event (2)

    def __init__(self, page):
        self.page = page
        self.holding = False
        self.everything = False
        self.held: list = []
        self.upgraded = False
        self._page_side = None
        page.route_web_socket(re.compile(r"/socket\.io/"), self._route)

    def _route(self, ws) -> None:
        server = ws.connect_to_server()
        self._page_side = ws

        def from_page(message) -> None:
            if message == "5":  # the Engine.IO upgrade: from now on everything goes through here
                self.upgraded = True
            server.send(message)

        def from_server(message) -> None:
            if self.holding and (self.everything or isinstance(message, str) and message.startswith(self.EVENT)):
                self.held.append(message)
            else:
                ws.send(message)

        ws.on_message(from_page)
        server.on_message(from_server)

    def wait(self, condition, what: str, timeout: float = 15) -> None:
        """Let Playwright deliver messages until ``condition()`` holds."""
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
            self.page.wait_for_timeout(50)

    def hold(self, everything: bool = False) -> None:
        self.wait(lambda: self.upgraded, "the page's WebSocket")
        self.everything = everything
        self.holding = True

    def release(self) -> None:
        self.holding = False
        held, self.held = self.held, []
        for message in held:
            self._page_side.send(message)
