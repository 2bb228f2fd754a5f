"""Accreditation, before the day: organizations apply, the secretariat reviews,
invites, supports travel and registers delegates; on the day, check-in and
attendance; afterwards, deleting personal data."""
from __future__ import annotations


def init_app(app) -> None:
    """The application form, the secretariat's pages, their API paths and the online-attendance watcher."""
    from moderation.features.accreditation import web

    web.init_app(app)
