"""Participant inputs: comments, suggestions to States parties, questions to
the panel and written statements; their moderation, endorsements, themes and
the rapporteurs' work on them.

Not one input may be lost: an input is acknowledged only once committed, and
the client's idempotency key makes a retry safe (see ``moderation.core.execution``).
What each audience sees of an input is decided in ``input_view``: the
organization is always recorded, but only the secretariat and the author see
it when the author chose to appear as "a participant".

The code is split by concern: ``audiences`` (the views of an input),
``window`` (when inputs are accepted), ``listing`` (the overview sections and
the list), ``handling`` (what the handlers share) and the commands in
``contributions``, ``moderating``, ``rapporteurs`` and ``settings``.
Importing this module registers every input command, as it always did, and
offers the names the snapshot and the list endpoints import from here.
"""
from __future__ import annotations

from moderation.features.inputs import contributions, moderating, rapporteurs, settings  # noqa: F401 (registers the commands)
from moderation.features.inputs.audiences import audience_for, input_records, input_view
from moderation.features.inputs.listing import ListQuery, list_inputs, my_inputs, overview_section, pinned_section, themes_section
from moderation.features.inputs.window import input_settings_section

__all__ = [
    "ListQuery",
    "audience_for",
    "input_records",
    "input_settings_section",
    "input_view",
    "list_inputs",
    "my_inputs",
    "overview_section",
    "pinned_section",
    "themes_section",
]
