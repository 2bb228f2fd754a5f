"""The agenda section: the items, which one runs and its countdown, for everyone."""
from moderation.core.sections import ALL_ROLES, section
from moderation.features.agenda.commands import agenda_section

section("agenda", ALL_ROLES, reads={"dialogues", "agenda_items"})(agenda_section)
