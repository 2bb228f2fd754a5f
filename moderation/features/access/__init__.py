"""Access: signing in, personal links and API tokens, roles, participants and
their channel (room or online), and joining with the room's code."""
from __future__ import annotations


def init_app(app) -> None:
    """Join codes are derived from the application's secret, not stored."""
    from moderation.features.access.join_codes import JoinKeys

    app.extensions["moderation"].join_keys = JoinKeys(app.config["SECRET_KEY"])
