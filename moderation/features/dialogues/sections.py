"""The dialogue's own section: its title, venue, dates and settings, for everyone."""
from moderation.core.sections import ALL_ROLES, section
from moderation.features.dialogues.commands import dialogue_section

section("dialogue", ALL_ROLES, reads={"dialogues"})(dialogue_section)
