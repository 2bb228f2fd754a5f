"""A second plugin that offers an agenda-item type name the first one
already offers: the app must refuse to start and name both."""
from moderation.plugins import AgendaItemType, hookimpl


@hookimpl
def agenda_item_types():
    return [AgendaItemType("side_event", "Side event (twin)", 10)]
