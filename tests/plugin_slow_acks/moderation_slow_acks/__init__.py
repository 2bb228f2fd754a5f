"""Slow acknowledgements, for tests of what clients do while they wait.

``dialogue_changed`` runs after a command is committed and broadcast and
before its acknowledgement leaves (moderation/service.py), so a wait here is
what a slow server looks like to the sender: the change is visible, the
answer is late. Which commands wait, and how long, is read from the JSON file
named by ``SLOW_ACKS_FILE`` on every command (``{"queue.pause_speaker": 1.5}``),
so a test can change it while the server runs. ``time.sleep`` is the async
library's own sleep once run.py has patched it, so other clients are served
meanwhile.
"""
from __future__ import annotations

import json
import os
import time

from moderation.plugins import hookimpl


def delays() -> dict[str, float]:
    path = os.environ.get("SLOW_ACKS_FILE")
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


@hookimpl
def dialogue_changed(app, outcome):
    seconds = delays().get(outcome.command, 0)
    if seconds:
        time.sleep(seconds)
