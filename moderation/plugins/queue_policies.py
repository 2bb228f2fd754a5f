"""Built-in speaker-queue policies. Registered through the
``moderation.plugins`` entry point like any third-party plugin."""
from moderation.features.queue.order import alternate, by_arrival, is_state, split
from moderation.plugins.hookspecs import QueuePolicy, hookimpl

POINT_OF_ORDER = "point_of_order"


def _first_come(entries, before, context, rest):
    return by_arrival(entries)


def _points_of_order_first(entries, before, context, rest):
    return split(entries, lambda c: c.intervention_type == POINT_OF_ORDER, before, rest)


def _first_time_first(entries, before, context, rest):
    return split(entries, lambda c: c.organization_key not in context.spoken_organizations, before, rest)


def _alternate_channel(entries, before, context, rest):
    return alternate(entries, lambda c: c.channel, before, rest)


def _alternate_stakeholders(entries, before, context, rest):
    return alternate(entries, lambda c: "states" if is_state(c) else "stakeholders", before, rest)


FIRST_COME = QueuePolicy("first_come_first_served", "First come, first served",
                         "In the order the requests arrived.", _first_come)
POINTS_OF_ORDER_FIRST = QueuePolicy(
    "points_of_order_first", "Points of order first",
    "A point of order goes to the top, even above speakers placed by hand.",
    _points_of_order_first, urgent=lambda c: c.intervention_type == POINT_OF_ORDER)
FIRST_TIME_FIRST = QueuePolicy(
    "first_time_first", "First-time organizations first",
    "Organizations that have not yet spoken in this dialogue come before those that have.",
    _first_time_first)
ALTERNATE_CHANNEL = QueuePolicy(
    "alternate_channel", "Alternate room and online",
    "Speakers in the room and online take turns, starting with the side that did not speak last.",
    _alternate_channel)
ALTERNATE_STAKEHOLDERS = QueuePolicy(
    "alternate_stakeholders", "Alternate States and stakeholders",
    "States parties (and intergovernmental organizations) and non-governmental stakeholders take turns.",
    _alternate_stakeholders)

# What a Constructive Dialogue uses unless it chooses otherwise.
DEFAULT_COMBINATION = ("points_of_order_first", "first_time_first", "alternate_channel")


@hookimpl
def queue_policies():
    return [POINTS_OF_ORDER_FIRST, FIRST_TIME_FIRST, ALTERNATE_CHANNEL, ALTERNATE_STAKEHOLDERS, FIRST_COME]
