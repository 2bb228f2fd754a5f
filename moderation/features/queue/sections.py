"""The speaker queue's sections: the list everyone sees, what the staff see
of it (notes, the policies at work) and the participation statistics."""
from moderation.core.sections import ALL_ROLES, STAFF, section
from moderation.features.queue.views import queue_section, queue_staff_section, statistics_section

QUEUE_TABLES = {"dialogues", "agenda_items", "speaker_entries", "organizations"}
section("queue", ALL_ROLES, reads=QUEUE_TABLES)(queue_section)
section("queue_staff", STAFF, reads=QUEUE_TABLES)(queue_staff_section)
section("statistics", STAFF, reads={"speaker_entries"})(statistics_section)
