"""The hybrid speaker queue: requests for the floor from the room and online,
the order the policies propose, the moderator's calls and changes, speaking
time, and the record of every intervention.

The queue belongs to the current agenda item. Participants ask from their own
device; the moderator adds people on behalf of a placard in the room or a
raised hand on the conference platform. The effective order is computed by
``queue_order.order`` from the dialogue's policy combination and the
moderator's manual placements.

The code is split by concern: ``state`` (the ordered queue), ``views`` (its
sections and statistics), ``handling`` (what the handlers share) and the
commands in ``asking``, ``floor`` and ``list_of_speakers``. Importing this
module registers every queue command, as it always did, and offers the
section builders the snapshot imports from here.
"""
from __future__ import annotations

from moderation.features.queue import asking, floor, list_of_speakers  # noqa: F401 (registers the commands)
from moderation.features.queue.views import queue_section, queue_staff_section, statistics_section

__all__ = ["queue_section", "queue_staff_section", "statistics_section"]
