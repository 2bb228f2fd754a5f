"""The accreditation's web side, registered on the app in one place
(``init_app``): the public pages (``public_pages``), the secretariat's
pages (``admin_pages``), the JSON API (``api``) and the delivery of
invitations and receipts (``delivery``). Every write is a command from the
feature's command modules; the web side only adapts forms and files."""
from __future__ import annotations

from moderation.features.accreditation import admin_pages, presence, public_pages  # noqa: F401 - their routes
from moderation.features.accreditation.api import api_bp
from moderation.features.accreditation.delivery import ApplicationReceipts
from moderation.features.accreditation.presence import PresenceWatcher  # noqa: F401 - where it used to be
from moderation.features.accreditation.web_shared import bp


def init_app(app) -> None:
    """Register the pages, the API reads and the online-attendance watcher."""
    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
    app.extensions["csrf"].exempt(api_bp)  # checked per request for cookie sessions (api_principal)
    presence.init_app(app)  # online attendance (moderation/features/accreditation/presence.py)
    app.extensions["moderation"].follow_ups.append(ApplicationReceipts(app))
