"""Built-in agenda-item types: the four parts of a Constructive Dialogue and a
generic item. Registered through the ``moderation.plugins`` entry point."""
from moderation.plugins.hookspecs import AgendaItemType, hookimpl

BRIEFING = AgendaItemType(
    "briefing", "Briefing on the review process", 20,
    "The secretariat explains the review mechanism and where the dialogue fits in.", ("panel",))
WORKING_GROUP_UPDATE = AgendaItemType(
    "working_group_update", "Update on the working group", 15,
    "What the working group discussed and decided.", ("panel",))
PANEL_DISCUSSION = AgendaItemType(
    "panel_discussion", "Panel discussion", 60,
    "Panellists speak, then the floor is open for statements and questions.", ("panel", "speakers"))
INPUT_COLLECTION = AgendaItemType(
    "input_collection", "Collection of inputs and suggestions", 45,
    "Participants give comments and suggestions to States parties, orally and in writing.",
    ("speakers", "inputs"))
GENERIC = AgendaItemType("generic", "Agenda item", 15, "", ())


@hookimpl
def agenda_item_types():
    return [BRIEFING, WORKING_GROUP_UPDATE, PANEL_DISCUSSION, INPUT_COLLECTION, GENERIC]
