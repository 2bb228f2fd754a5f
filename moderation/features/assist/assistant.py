"""The assistant's engine: which backend compares inputs, and their vectors,
computed once per input off the live session's path and stored.

After a command that wrote inputs is committed, the dialogue is noted and a
background task encodes the inputs that have no vector yet (or whose text
changed) and stores them (``input_vectors``: derived data, written without a
command, never versioned or audited). The model runs in an OS thread (the
server wiring's ``offload``), one call at a time, so the event loop keeps
serving the room meanwhile; a backend that says ``separate_process`` (the
sentence-embedding model, which holds the interpreter's lock much of the
time) runs in a child process instead (``encoder``). A read that finds
vectors missing (the task has not caught up, or the backend is TF-IDF,
whose vectors depend on the whole dialogue) encodes them the same way
before answering.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from moderation.features.assist.encoder import EncoderProcess
from moderation.models import Input, InputStatus, InputVector
from moderation.plugins import SimilarityBackend, backends_in_order

log = logging.getLogger(__name__)
# scikit-learn's k-means asks joblib how many cores there are, which starts a
# subprocess (refused from gevent's thread pool): the assistant uses one anyway.
os.environ.setdefault("LOKY_MAX_CPU_COUNT", "1")
# The inputs the assistant compares: what the rapporteur may still tag or
# merge (not hidden by moderation, withdrawn or already merged).
COMPARED = (InputStatus.PENDING.value, InputStatus.PUBLISHED.value)
BATCH = 64
SETTLE = 2.0  # s without a new input before encoding starts ...
MAX_DELAY = 30.0  # ... or at most this long after the first


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def compared_inputs(session: Session, dialogue_id: int) -> list[Input]:
    return list(session.scalars(select(Input).where(Input.dialogue_id == dialogue_id, Input.status.in_(COMPARED))
                                .order_by(Input.id)))


def choose_backend(backends: Sequence[SimilarityBackend], wanted: str | None) -> SimilarityBackend:
    """``wanted`` (the ``ASSIST_BACKEND`` setting) or the first available."""
    if wanted:
        for backend in backends:
            if backend.name == wanted:
                if not backend.available():
                    raise RuntimeError(f"ASSIST_BACKEND {wanted!r} is not installed here")
                return backend
        raise RuntimeError(f"ASSIST_BACKEND {wanted!r} is not a similarity backend "
                           f"(there are {', '.join(b.name for b in backends)})")
    for backend in backends:
        if backend.available():
            return backend
    raise RuntimeError("no similarity backend is available")


class Assistant:
    """One per application (``app.extensions["assistant"]``)."""

    def __init__(self, db: Any, backend: SimilarityBackend, offload: Callable[..., Any] | None = None,
                 start_task: Callable[[Callable[[], None]], Any] | None = None):
        self.db = db
        self.backend = backend
        self.offload = offload or (lambda fn, *args: fn(*args))
        self.start_task = start_task
        # Taken in the event loop around each offloaded call (green under
        # eventlet and gevent): the model runs one call at a time.
        self._encoding = threading.Lock()
        self._lock = threading.Lock()
        self._pending: set[int] = set()
        self._running = False
        self._last_note = 0.0
        # A model that holds the interpreter's lock runs in a process of its own (``encoder``).
        self.encoder_process = EncoderProcess(backend) if getattr(backend, "separate_process", False) else None

    @classmethod
    def for_app(cls, app: Any) -> Assistant:
        backend = choose_backend(backends_in_order(app.extensions["plugins"]), app.config.get("ASSIST_BACKEND"))
        realtime = app.extensions.get("realtime")
        start = realtime.socketio.start_background_task if realtime is not None else None
        return cls(app.extensions["moderation"].db, backend, app.extensions.get("offload"), start)

    # -- encoding ---------------------------------------------------------------
    def encode(self, texts: list[str], fitted_on: list[str] | None = None) -> Any:
        """Vectors of ``texts`` (with TF-IDF: in the space of ``fitted_on``),
        computed in an OS thread."""
        backend = self.backend
        if backend.per_text:
            with self._encoding:
                if self.encoder_process is not None:
                    return self.encoder_process.encode(texts)
                return self.offload(backend.encode, texts)

        def fitted() -> Any:
            return backend.fit(fitted_on if fitted_on is not None else texts).transform(texts)
        with self._encoding:
            return self.offload(fitted)

    def compute(self, work: Callable[[], Any]) -> Any:
        """``work()`` (numeric work on vectors: comparing, clustering) in an OS thread."""
        with self._encoding:
            return self.offload(work)

    def vectors(self, session: Session, inputs: Sequence[Input]) -> Any:
        """One row per input, in order: stored vectors where the text is
        unchanged, the others encoded now (and stored by the background task)."""
        texts = [i.text for i in inputs]
        if not self.backend.per_text:
            return self.encode(texts)
        if not inputs:
            return np.zeros((0, 1), dtype=np.float32)
        stored = self._stored(session, inputs)
        missing = [n for n, i in enumerate(inputs) if i.id not in stored]
        if missing:
            fresh = np.asarray(self.encode([texts[n] for n in missing]), dtype=np.float32)
            for n, row in zip(missing, fresh, strict=True):
                stored[inputs[n].id] = row
            self.note(inputs[0].dialogue_id)
        return np.vstack([stored[i.id] for i in inputs])

    def _stored(self, session: Session, inputs: Sequence[Input]) -> dict[int, np.ndarray]:
        wanted = {i.id: digest(i.text) for i in inputs}
        found: dict[int, np.ndarray] = {}
        ids = list(wanted)
        for start in range(0, len(ids), 500):
            for row in session.scalars(select(InputVector).where(InputVector.backend == self.backend.name,
                                                                 InputVector.input_id.in_(ids[start:start + 500]))):
                if row.digest == wanted[row.input_id]:
                    found[row.input_id] = np.frombuffer(row.vector, dtype=np.float32)
        return found

    # -- keeping vectors stored ---------------------------------------------------------
    def after_commit(self, outcome: Any) -> None:
        """A service follow-up: a command that wrote inputs leaves work for the task."""
        if outcome.replayed or outcome.dialogue_id is None:
            return
        if "inputs" not in outcome.written and not outcome.records.get("inputs"):  # grouped: no tables named
            return
        self.note(outcome.dialogue_id)

    def note(self, dialogue_id: int) -> None:
        if not self.backend.per_text:
            return
        with self._lock:
            self._last_note = time.monotonic()
            self._pending.add(dialogue_id)
            if self._running or self.start_task is None:
                return
            self._running = True
        self.start_task(self._drain)

    def _settle(self) -> None:
        """Wait until inputs have stopped arriving for SETTLE s (at most
        MAX_DELAY s): a burst is encoded once it has passed, in few batches."""
        started = time.monotonic()
        while time.monotonic() - started < MAX_DELAY:
            quiet = time.monotonic() - self._last_note
            if quiet >= SETTLE:
                return
            time.sleep(SETTLE - quiet)  # a green sleep under eventlet and gevent (patched)

    def _drain(self) -> None:
        if self.encoder_process is not None and self.encoder_process.process is None:
            try:
                self.encode([])  # the child loads the model (seconds) while the burst settles
            except Exception:  # tried again with the inputs themselves
                log.exception("the assistant's encoder process could not start")
        self._settle()
        while True:
            with self._lock:
                if not self._pending:
                    self._running = False
                    return
                dialogue_id = self._pending.pop()
            try:
                self.store_missing(dialogue_id)
            except Exception:  # a failed encoding is tried again with the next input
                log.exception("the assistant could not encode the inputs of dialogue %s", dialogue_id)

    def store_missing(self, dialogue_id: int) -> int:
        """Encode and store every compared input of the dialogue that has no
        vector for its current text. Returns how many were stored."""
        if not self.backend.per_text:
            return 0
        with self.db.session() as session:
            inputs = compared_inputs(session, dialogue_id)
            stored = self._stored(session, inputs)
            todo = [(i.id, i.text) for i in inputs if i.id not in stored]
        done = 0
        for start in range(0, len(todo), BATCH):
            batch = todo[start:start + BATCH]
            rows = np.asarray(self.encode([text for _, text in batch]), dtype=np.float32)
            with self.db.session() as session:
                ids = [input_id for input_id, _ in batch]
                session.execute(delete(InputVector).where(InputVector.backend == self.backend.name,
                                                          InputVector.input_id.in_(ids)))
                session.add_all(InputVector(input_id=input_id, backend=self.backend.name, dialogue_id=dialogue_id,
                                            digest=digest(text), dimensions=int(row.shape[0]),
                                            vector=row.astype(np.float32).tobytes())
                                for (input_id, text), row in zip(batch, rows, strict=True))
                try:
                    session.commit()
                except IntegrityError:  # another process stored them meanwhile, or an input is gone
                    session.rollback()
                    continue
            done += len(batch)
        return done
