"""Kept for queue-policy plugins, which import ``split``, ``alternate`` and
the candidate types from here (``docs/plugins.md``); the code lives in
``moderation.features.queue.order``."""
from moderation.features.queue.order import (  # noqa: F401
    Candidate,
    QueueContext,
    alternate,
    by_arrival,
    is_state,
    order,
    split,
)
