"""A live server that is slow to answer chosen commands (a real wait in the
server process, tests/plugin_slow_acks), for tests of what clients do while
an acknowledgement is on its way.

    slow = SlowAcks(tmp_path)
    with LiveServer(tmp_path / "server", env=slow.env) as server:
        slow.set({"queue.pause_speaker": 1.5})   # from now on
        ...
        slow.set({})                              # answers at once again

The plugin is installed as pip would leave it (the package and its
``.dist-info`` with the entry point) in a folder put on the server's
``PYTHONPATH``; the delays live in a JSON file the server reads on every
command.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

SOURCE = Path(__file__).resolve().parent / "plugin_slow_acks"
PACKAGE = "moderation_slow_acks"


class SlowAcks:
    def __init__(self, directory: Path):
        self.site = Path(directory) / "slow-acks-site"
        shutil.copytree(SOURCE / PACKAGE, self.site / PACKAGE, dirs_exist_ok=True)
        info = self.site / "moderation_slow_acks-0.1.0.dist-info"
        info.mkdir(parents=True, exist_ok=True)
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: moderation-slow-acks\nVersion: 0.1.0\n",
                                       encoding="utf-8")
        (info / "entry_points.txt").write_text(f"[moderation.plugins]\nslow_acks = {PACKAGE}\n", encoding="utf-8")
        self.file = Path(directory) / "slow-acks.json"
        self.set({})

    @property
    def env(self) -> dict[str, str]:
        path = os.pathsep.join(p for p in (str(self.site), os.environ.get("PYTHONPATH", "")) if p)
        return {"PYTHONPATH": path, "SLOW_ACKS_FILE": str(self.file)}

    def set(self, delays: dict[str, float]) -> None:
        """Which commands wait how many seconds before their answer, from now on."""
        partial = self.file.with_suffix(".tmp")
        partial.write_text(json.dumps(delays), encoding="utf-8")
        partial.replace(self.file)  # never half a file for the server to read

    def prove(self, server) -> None:
        """Check on a running demo server that its answers really wait (the
        plugin is loaded): one harmless command, timed."""
        from server import Client

        with Client(server, server.token("moderator"), server.dialogue_id) as moderator:
            self.set({"queue.configure": 0.6})
            try:
                began = time.monotonic()
                moderator.command("queue.configure", {"warning_seconds": 30})
                waited = time.monotonic() - began
            finally:
                self.set({})
        assert waited >= 0.6, f"the answer came after {waited:.2f} s: is the slow_acks plugin loaded?"
