"""A tiny plugin that implements every hook, for tests/test_plugins.py.

It keeps what it observes on the app (``app.extensions["fixture_plugin"]``),
never in module globals, so that every app in a test run starts clean.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import select

from moderation.plugins import AgendaItemType, hookimpl
from moderation.plugins.hookspecs import Exporter, FilterVerdict, InputFilter, QueuePolicy

SIDE_EVENT = AgendaItemType(
    "side_event", "Side event", 25, "A side event presented by a participating organization.", ("panel",))

# Input filter markers (the tests write them into texts).
REFUSE_MARKER = "#refuse-me"
FLAG_MARKER = "#flag-me"
HOLD_MARKER = "#hold-me"


def state(app) -> dict:
    return app.extensions.setdefault("fixture_plugin", {"changes": []})


@hookimpl
def agenda_item_types():
    return [SIDE_EVENT]


bp = Blueprint("fixture_plugin", __name__, url_prefix="/plugins/fixture")


@bp.get("/d/<int:dialogue_id>/whoami")
def whoami(dialogue_id: int):
    """Roles are checked against the database, as the built-in pages do."""
    from moderation.web.pages import current_actor

    actor = current_actor(dialogue_id)
    if not actor.roles:
        return jsonify({"ok": False, "error": {"code": "forbidden"}}), 403
    return jsonify({"ok": True, "plugin": "fixture", "roles": sorted(r.value for r in actor.roles),
                    "changes_seen": len(state(current_app)["changes"])})


@hookimpl
def register_blueprints(app):
    return [bp]


@hookimpl
def dialogue_changed(app, outcome):
    """Record the outcome and the version the database holds at this moment
    (equal to ``outcome.version`` when called after the commit)."""
    from moderation.models import Dialogue

    committed = None
    if outcome.dialogue_id is not None:
        with app.extensions["db"].session() as session:
            committed = session.scalar(select(Dialogue.version).where(Dialogue.id == outcome.dialogue_id))
    state(app)["changes"].append({"command": outcome.command, "dialogue_id": outcome.dialogue_id,
                                  "version": outcome.version, "committed_version": committed,
                                  "result": outcome.result, "touched": sorted(outcome.touched)})
    if app.config.get("FIXTURE_PLUGIN_FAIL"):
        raise RuntimeError("the fixture plugin fails on purpose")


def _last_come_first_served(entries, before, context, rest):
    return sorted(entries, key=lambda c: (c.requested_at, c.id), reverse=True)


LAST_FIRST = QueuePolicy("fixture_last_come_first_served", "Last come, first served",
                         "The latest request first (a test policy).", _last_come_first_served)


@hookimpl
def queue_policies():
    return [LAST_FIRST]


def _markers(draft, session):
    if REFUSE_MARKER in draft.text:
        return FilterVerdict("refuse", "The fixture plugin refuses this text.")
    if HOLD_MARKER in draft.text:
        return FilterVerdict("hold", "The fixture plugin holds this text for a moderator.")
    if FLAG_MARKER in draft.text:
        return FilterVerdict("flag", "The fixture plugin flags this text.")
    return None


MARKERS = InputFilter("fixture_markers", "Fixture markers", _markers)


@hookimpl
def input_filters():
    return [MARKERS]


def _agenda_titles(document):
    """One line per agenda item: its position, type label and title."""
    lines = [document["dialogue"]["title"]]
    lines += [f"{item['position']}. [{item['type_label']}] {item['title']}" for item in document["agenda"]]
    return ("\n".join(lines) + "\n").encode("utf-8")


AGENDA_TITLES = Exporter("fixture_agenda", "Agenda titles (fixture)", "txt", "text/plain; charset=utf-8",
                         _agenda_titles)


@hookimpl
def summary_exporters():
    return [AGENDA_TITLES]


class WordsBackend:
    """A similarity backend: each text's set of words, hashed into 64
    dimensions (texts with the same words score 1.0, whatever their order)."""

    name = "fixture_words"
    label = "Same words (fixture)"
    per_text = True

    def available(self) -> bool:
        return True

    def fit(self, texts):
        return self

    def transform(self, texts):
        return self.encode(texts)

    def encode(self, texts):
        import zlib

        import numpy as np

        rows = np.zeros((len(texts), 64), dtype=np.float32)
        for row, text in zip(rows, texts, strict=True):
            for word in set(text.lower().split()):
                row[zlib.crc32(word.encode()) % 64] += 1.0
            norm = float(np.linalg.norm(row))
            if norm:
                row /= norm
        return rows


@hookimpl
def similarity_backends():
    return [WordsBackend()]
