"""Calls started together in threads, with a deadline for everything.

A bare ``threading.Barrier`` waits for ever when one thread never arrives
(it failed before the barrier, or could not start), and a thread left running
keeps the test process alive; here every wait has a timeout and a thread
still running at the deadline fails the test.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


def all_at_once(calls: list[Callable[[], Any]], timeout: float = 30) -> list[Any]:
    """Run ``calls`` in threads released at the same moment; return each
    one's result in order (an exception it raised is returned, not raised)."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout)
            results[index] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test as a result
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, call), daemon=True, name=f"at-once-{i}")
               for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [thread.name for thread in threads if thread.is_alive()]
    assert not stuck, f"still running after {timeout} s: {stuck}"
    return results
