"""Attendance: how many are checked in (a section) and how many are
connected online (``live``: it changes without a command, so it is rebuilt
for every snapshot and travels in the presence hint)."""
from moderation.core.sections import ALL_ROLES, Live, section
from moderation.features.accreditation.checkin import attendance_section, checked_in_ids, online_now


def _online(session, dialogue, cache):
    # Who is checked in changes with a version; who is connected does not.
    return {"online": online_now(session, dialogue.id, checked_in=cache.get(
        (dialogue.id, dialogue.version, "checked_in", None), lambda: checked_in_ids(session, dialogue.id)))}


section("attendance", ALL_ROLES, reads={"participants"}, live=Live(frozenset({"online"}), _online))(attendance_section)
