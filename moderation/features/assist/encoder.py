"""A sentence-embedding model in a process of its own.

Encoding holds Python's global interpreter lock for much of its time, so in
a thread of the server's process it slows every answer to the room (an input
burst's p99 went from about 110 ms to 860 ms). A backend that says
``separate_process = True`` is run here instead: the server writes one JSON
line per request on the child's stdin and reads one line back, through the
async library's own pipes (eventlet and gevent patch ``subprocess``), so a
request waits without holding anything up. The child loads the model once,
on its first request, and ends when the server closes its stdin, or by
itself after ``IDLE_EXIT_AFTER`` s without a request, giving back the
model's memory (about 550 MB) between sessions; the next request starts it
again.

    python -m moderation.features.assist.encoder package.module:BackendClass [idle seconds]
"""
from __future__ import annotations

import base64
import importlib
import json
import os
import select
import subprocess
import sys
import threading
from typing import Any

import numpy as np

IDLE_EXIT_AFTER = 600.0  # s without a request before the child ends by itself
IDLE_EXIT_CODE = 75      # how it says so (EX_TEMPFAIL): the parent starts it again, with no error


def backend_path(backend: Any) -> str:
    cls = type(backend)
    return f"{cls.__module__}:{cls.__qualname__}"


def load_backend(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)()


class EncoderProcess:
    """The parent's side: ``encode(texts)`` asks the child. One request at a
    time (the caller's lock); a child that died is started again."""

    def __init__(self, backend: Any, idle_exit_after: float = IDLE_EXIT_AFTER):
        self.path = backend_path(backend)
        self.idle_exit_after = idle_exit_after
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._lock = threading.Lock()

    def _start(self) -> subprocess.Popen[bytes]:
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen(
                [sys.executable, "-m", __name__, self.path, str(self.idle_exit_after)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True)
            self.starts += 1
        return self.process

    def encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            line = self._ask(texts)
            if not line and self._ended_idle():  # it ended just as it was asked: ask a new one
                line = self._ask(texts)
            if not line:
                self.close()
                raise RuntimeError("the encoder process stopped")
            answer = json.loads(line)
            if "error" in answer:
                raise RuntimeError(f"the encoder process failed: {answer['error']}")
            return np.frombuffer(base64.b64decode(answer["data"]), dtype=np.float32).reshape(answer["shape"])

    def _ask(self, texts: list[str]) -> bytes:
        process = self._start()
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(json.dumps({"texts": texts}).encode("utf-8") + b"\n")
            process.stdin.flush()
            return process.stdout.readline()
        except (BrokenPipeError, OSError):
            return b""

    def _ended_idle(self) -> bool:
        process = self.process
        if process is None:
            return False
        try:
            return process.wait(timeout=5) == IDLE_EXIT_CODE
        except subprocess.TimeoutExpired:
            return False

    def close(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        try:
            if process.stdin:
                process.stdin.close()
            process.wait(timeout=5)
        except Exception:  # it will not stop by itself: stop it
            process.kill()


def main(argv: list[str]) -> int:
    # The room comes first: the scheduler gives the server's process the CPU before this one.
    os.nice(10)
    # The answers go to the real stdout; anything a library prints goes to stderr.
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    backend = load_backend(argv[1])
    idle_exit_after = float(argv[2]) if len(argv) > 2 else IDLE_EXIT_AFTER
    while True:
        # one request at a time: nothing waits in stdin's buffer while select() waits
        ready, _, _ = select.select([sys.stdin], [], [], idle_exit_after)
        if not ready:
            return IDLE_EXIT_CODE
        line = sys.stdin.buffer.readline()
        if not line:
            return 0  # the server closed the pipe: it is stopping
        try:
            texts = json.loads(line)["texts"]
            vectors = backend.encode(list(texts))
            vectors = vectors.toarray() if hasattr(vectors, "toarray") else vectors  # a sparse matrix
            vectors = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
            answer = {"shape": list(vectors.shape), "data": base64.b64encode(vectors.tobytes()).decode("ascii")}
        except Exception as exc:  # told to the server, which logs it; the next request may work
            answer = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
