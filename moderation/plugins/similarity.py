"""The built-in similarity backends of the rapporteur's assistant, offered
through the ``similarity_backends`` hook like a plugin's: all-MiniLM-L6-v2
sentence embeddings first (with the ``embeddings`` extra), TF-IDF
(scikit-learn, always there) last. Their code is in
``moderation.features.assist.similarity``; it is imported on the first call,
so that starting the app loads neither scikit-learn nor torch."""
from __future__ import annotations

from moderation.plugins.hookspecs import SimilarityBackend, hookimpl


@hookimpl
def similarity_backends() -> list[SimilarityBackend]:
    from moderation.features.assist.similarity import MiniLMBackend, TfidfBackend

    return [MiniLMBackend(), TfidfBackend()]
