"""Accreditation: who takes part, known before the session starts.

Before each dialogue, non-governmental organizations apply on a public page
(one application per dialogue; an organization may apply for several
dialogues at once, the Preparation Day included). The secretariat reviews the
applications and records the body that decided (the Extended Bureau, say);
approval turns the nominees into participants, and invitations give each a
personal link (a QR code for those coming in person). State party and
intergovernmental delegates are added by the secretariat without applying.
On the day, the secretariat checks people in at the door; the counts in the
room and online are a section every screen sees.

The rules that hold everywhere (the form, the API, the channel switch):

- at most one in-person participant plus one alternate per organization;
  everyone else joins online (``room.enter_room``, which every way into the
  room goes through);
- after the deadline (an instant, stated in its own time zone) nothing is
  stored; the secretariat can move the deadline or accept a late
  application by hand;
- an application is changed only with its private edit token (given once,
  with the edit link, when applying; stored hashed) until it is decided; the
  same organization applying again without it makes a new application,
  which the secretariat sees as a possible duplicate;
- personal data (names, e-mail addresses) is the secretariat's; it can be
  deleted once the summary is published, keeping anonymous counts.

Tokens are stored hashed, so invitations are written when the links are
issued (``invitations.issue``, in ``links``); ``invitations`` turns them
into e-mails or files.

The commands, one module per step (each registers its commands when
imported; ``moderation.features.load_features`` imports them all):
``applications`` (the form, the window, applying), ``review``, ``links``
(invitation links), ``travel``, ``delegates``, ``checkin`` (on the day and
the attendance section), ``privacy`` and ``exports`` (the secretariat's
lists and CSV files). The web side: ``web`` (``init_app``), ``public_pages``,
``admin_pages``, ``api`` and ``delivery``.
"""
from __future__ import annotations


def init_app(app) -> None:
    """The application form, the secretariat's pages, their API paths and the online-attendance watcher."""
    from moderation.features.accreditation import web

    web.init_app(app)
