"""The rapporteur's assistant: possible duplicates, theme suggestions and
themes found from scratch, computed on this machine.

``similarity`` holds the built-in backends (TF-IDF; all-MiniLM-L6-v2
embeddings with the ``embeddings`` extra), offered through the
``similarity_backends`` hook; ``analysis`` what is computed from their
vectors; ``assistant`` chooses the backend and keeps each input's vector,
computed off the live path; ``suggestions`` turns them into what the staff
see, through the reads (``reads``) and the API (``api``); ``commands`` are
what the rapporteur does with them. ``bench/assist.py`` measures it all on
the labelled set in ``bench/assist_data``."""
from __future__ import annotations


def init_app(app) -> None:
    """The assistant, its follow-up (vectors of new inputs) and its API paths."""
    from moderation.features.assist.api import api_bp
    from moderation.features.assist.assistant import Assistant

    assistant = Assistant.for_app(app)
    app.extensions["assistant"] = assistant
    app.extensions["moderation"].follow_ups.append(assistant.after_commit)
    app.register_blueprint(api_bp)
    app.extensions["csrf"].exempt(api_bp)
