"""Access: signing in, personal links and API tokens, roles, participants and
their channel (room or online), and joining with the room's code."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Join codes are derived from the application's secret, not stored; the
    join pages are this feature's."""
    from moderation.features.access.join_codes import JoinKeys
    from moderation.features.access.pages import bp

    app.extensions["moderation"].join_keys = JoinKeys(app.config["SECRET_KEY"])
    app.register_blueprint(bp)
