"""The summary section and its narrative sections, sent record by record to the staff."""
from moderation.core.sections import STAFF, record_kind, section
from moderation.features.summary.commands import narrative_records, participation_section, summary_section

section("summary", STAFF, reads={"dialogues", "summary_sections"})(summary_section)
record_kind("summary_sections", STAFF)(narrative_records)
section("participation", STAFF, reads={"inputs", "input_themes", "themes"})(participation_section)
