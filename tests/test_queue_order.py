"""The ordering engine on its own (``moderation.features.queue.order``): no database,
no app. Every built-in policy alone and in combinations, checked as
properties over generated queues (hypothesis) and on small worked examples.

Vocabulary: an entry is *urgent* when an active policy marks it so (points of
order, with ``points_of_order_first``); *ranked* when the moderator placed it
by hand (``manual_rank``); the rest are ordered by the policies.
"""
from __future__ import annotations

import datetime as dt
import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moderation.features.queue.order import Candidate, QueueContext, by_arrival, is_state, order, split
from moderation.plugins.hookspecs import QueuePolicy
from moderation.plugins.queue_policies import (
    ALTERNATE_CHANNEL,
    ALTERNATE_STAKEHOLDERS,
    DEFAULT_COMBINATION,
    FIRST_COME,
    FIRST_TIME_FIRST,
    POINTS_OF_ORDER_FIRST,
    queue_policies,
)

BUILT_INS = [POINTS_OF_ORDER_FIRST, FIRST_TIME_FIRST, ALTERNATE_CHANNEL, ALTERNATE_STAKEHOLDERS, FIRST_COME]
BY_NAME = {p.name: p for p in BUILT_INS}
T0 = dt.datetime(2026, 6, 3, 13, 0, tzinfo=dt.UTC)
CHANNELS = ("room", "online")
CATEGORIES = ("ngo_ecosoc", "ngo", "academia", "private_sector", "state_party", "igo", "other")
TYPES = ("statement", "question", "point_of_order", "reply")
ORGS = tuple(f"org:{n}" for n in range(1, 7))
PROPERTY = settings(max_examples=300, deadline=None)


# -- generators ------------------------------------------------------------------------
@st.composite
def queues(draw, *, manual: bool | None = None, min_size: int = 0, max_size: int = 14):
    """A list of candidates with unique ids, random channels, categories,
    types and organizations, arrival times with ties, and (when ``manual``
    is true, or at random when it is None) some manual ranks."""
    with_manual = draw(st.booleans()) if manual is None else manual
    size = draw(st.integers(min_size, max_size))
    ids = draw(st.lists(st.integers(1, 10_000), min_size=size, max_size=size, unique=True))
    entries = []
    for entry_id in ids:
        rank = None
        if with_manual and draw(st.booleans()):
            rank = float(draw(st.integers(-3, 6)))
        entries.append(Candidate(
            id=entry_id, channel=draw(st.sampled_from(CHANNELS)), category=draw(st.sampled_from(CATEGORIES)),
            intervention_type=draw(st.sampled_from(TYPES)), organization_key=draw(st.sampled_from(ORGS)),
            requested_at=T0 + dt.timedelta(seconds=draw(st.integers(0, 40))), manual_rank=rank))
    return entries


@st.composite
def contexts(draw):
    last = None
    if draw(st.booleans()):
        last = Candidate(id=20_000, channel=draw(st.sampled_from(CHANNELS)),
                         category=draw(st.sampled_from(CATEGORIES)), intervention_type="statement",
                         organization_key=draw(st.sampled_from(ORGS)), requested_at=T0 - dt.timedelta(minutes=5))
    spoken = frozenset(draw(st.lists(st.sampled_from(ORGS), unique=True)))
    return QueueContext(last_speaker=last, spoken_organizations=spoken)


combinations = st.lists(st.sampled_from(BUILT_INS), unique_by=lambda p: p.name, max_size=len(BUILT_INS))


# -- helpers -----------------------------------------------------------------------------
def ids(entries):
    return [c.id for c in entries]


def is_point_of_order(c: Candidate) -> bool:
    return c.intervention_type == "point_of_order"


def urgent_under(policies):
    checks = [p.urgent for p in policies if p.urgent is not None]
    return lambda c: c.manual_rank is None and any(check(c) for check in checks)


def manual_key(c: Candidate):
    return (c.manual_rank, c.requested_at, c.id)


def assert_precedes(result, first, second, what):
    """Every entry for which ``first`` holds comes before every entry for
    which ``second`` holds."""
    last_first = max((i for i, c in enumerate(result) if first(c)), default=-1)
    first_second = min((i for i, c in enumerate(result) if second(c)), default=len(result))
    assert last_first < first_second, f"{what}: {[(c.id, c.channel, c.intervention_type) for c in result]}"


def candidate(entry_id, channel="room", *, seconds=None, kind="statement", category="ngo", org=None, rank=None):
    return Candidate(id=entry_id, channel=channel, category=category, intervention_type=kind,
                     organization_key=org or f"org:{entry_id}",
                     requested_at=T0 + dt.timedelta(seconds=entry_id if seconds is None else seconds),
                     manual_rank=rank)


# -- every combination: a permutation, deterministic -----------------------------------
@PROPERTY
@given(queues(), combinations, contexts())
def test_the_result_is_a_permutation_of_the_input(entries, policies, context):
    result = order(entries, policies, context)
    assert sorted(ids(result)) == sorted(ids(entries))
    assert len(set(ids(result))) == len(result)


@PROPERTY
@given(queues(), combinations, contexts(), st.randoms(use_true_random=False))
def test_the_order_does_not_depend_on_the_order_rows_come_from_the_database(entries, policies, context, rnd):
    shuffled = list(entries)
    rnd.shuffle(shuffled)
    assert ids(order(shuffled, policies, context)) == ids(order(entries, policies, context))


# -- first come, first served ------------------------------------------------------------
@PROPERTY
@given(queues(manual=False), contexts())
def test_first_come_first_served_alone_is_arrival_order(entries, context):
    expected = sorted(entries, key=lambda c: (c.requested_at, c.id))
    assert ids(order(entries, [FIRST_COME], context)) == ids(expected)


@PROPERTY
@given(queues(manual=False), contexts())
def test_no_policy_at_all_is_arrival_order(entries, context):
    assert ids(order(entries, [], context)) == ids(by_arrival(entries))


def test_arrival_ties_are_broken_by_id():
    entries = [candidate(3, seconds=0), candidate(1, seconds=0), candidate(2, seconds=0)]
    assert ids(order(entries, [FIRST_COME], QueueContext())) == [1, 2, 3]


# -- points of order first -----------------------------------------------------------------
@PROPERTY
@given(queues(), combinations.filter(lambda ps: POINTS_OF_ORDER_FIRST in ps), contexts())
def test_every_point_of_order_precedes_every_other_entry(entries, policies, context):
    """Wherever points_of_order_first sits in the combination, and also above
    entries placed by hand. (A point of order the moderator placed by hand is
    itself a manual placement and keeps its place.)"""
    result = order(entries, policies, context)
    urgent = urgent_under(policies)
    assert_precedes(result, urgent, lambda c: not urgent(c), "a point of order came after another entry")
    if all(c.manual_rank is None for c in entries):
        assert_precedes(result, is_point_of_order, lambda c: not is_point_of_order(c),
                        "a point of order came after another entry")


def test_points_of_order_go_first_even_when_listed_last():
    """Regression: with points_of_order_first listed after first_time_first
    a point of order from an organization that had spoken used to wait
    behind every first-time statement, yet jumped to the top as soon as the
    moderator placed anyone by hand."""
    entries = [candidate(1, org="org:new"), candidate(2, kind="point_of_order", org="org:old")]
    context = QueueContext(spoken_organizations=frozenset({"org:old"}))
    assert ids(order(entries, [FIRST_TIME_FIRST, POINTS_OF_ORDER_FIRST], context)) == [2, 1]


def test_a_point_of_order_goes_above_entries_placed_by_hand():
    entries = [candidate(1, rank=0.0), candidate(2, rank=1.0), candidate(3, kind="point_of_order"),
               candidate(4)]
    assert ids(order(entries, [POINTS_OF_ORDER_FIRST, ALTERNATE_CHANNEL], QueueContext())) == [3, 1, 2, 4]


def test_without_the_policy_a_point_of_order_waits_its_turn():
    entries = [candidate(1), candidate(2, kind="point_of_order")]
    assert ids(order(entries, [FIRST_COME], QueueContext())) == [1, 2]


# -- first-time organizations first ----------------------------------------------------------
def first_time_leads(policies) -> bool:
    """first_time_first is in the combination with no policy above it other
    than points_of_order_first (whose entries lead anyway)."""
    names = [p.name for p in policies]
    if "first_time_first" not in names:
        return False
    return all(n == "points_of_order_first" for n in names[:names.index("first_time_first")])


@PROPERTY
@given(queues(), combinations.filter(first_time_leads), contexts())
def test_first_time_organizations_precede_the_others(entries, policies, context):
    result = order(entries, policies, context)
    urgent = urgent_under(policies)
    # The part the policies order: neither urgent nor placed by hand.
    automatic = [c for c in result if c.manual_rank is None and not urgent(c)]
    first_time = lambda c: c.organization_key not in context.spoken_organizations  # noqa: E731
    assert_precedes(automatic, first_time, lambda c: not first_time(c), "a first-time organization waited")
    if all(c.manual_rank is None for c in entries) and POINTS_OF_ORDER_FIRST not in policies:
        assert_precedes(result, first_time, lambda c: not first_time(c), "a first-time organization waited")


def test_first_time_first_alone():
    entries = [candidate(1, org="org:a"), candidate(2, org="org:b"), candidate(3, org="org:c")]
    context = QueueContext(spoken_organizations=frozenset({"org:a", "org:c"}))
    assert ids(order(entries, [FIRST_TIME_FIRST], context)) == [2, 1, 3]


# -- alternate room and online ---------------------------------------------------------------
def assert_alternates(result, side, last_speaker=None):
    for i in range(len(result) - 1):
        if side(result[i]) == side(result[i + 1]):
            later = {side(c) for c in result[i + 1:]}
            assert later == {side(result[i])}, (
                f"two of {side(result[i])!r} in a row at {i} while the other side still waits: "
                f"{[(c.id, side(c)) for c in result]}")
    if result and last_speaker is not None and len({side(c) for c in result}) == 2:
        assert side(result[0]) != side(last_speaker), "did not start with the side opposite the last speaker"


@PROPERTY
@given(queues(manual=False), contexts())
def test_alternate_channel_alone_takes_turns(entries, context):
    result = order(entries, [ALTERNATE_CHANNEL], context)
    channel = lambda c: c.channel  # noqa: E731
    assert_alternates(result, channel, context.last_speaker)
    if context.last_speaker is None and len({c.channel for c in entries}) == 2:
        assert result[0].channel == by_arrival(entries)[0].channel, "without a last speaker, the earliest starts"
    for side in CHANNELS:  # within a side, first come first served
        same = [c for c in result if c.channel == side]
        assert ids(same) == ids(by_arrival(same))


@PROPERTY
@given(queues(manual=False), contexts())
def test_alternate_stakeholders_alone_takes_turns(entries, context):
    result = order(entries, [ALTERNATE_STAKEHOLDERS], context)
    assert_alternates(result, is_state, context.last_speaker)


def test_alternate_channel_starts_opposite_the_last_speaker():
    entries = [candidate(1, "room"), candidate(2, "room"), candidate(3, "online"), candidate(4, "online"),
               candidate(5, "room")]
    assert ids(order(entries, [ALTERNATE_CHANNEL], QueueContext())) == [1, 3, 2, 4, 5]
    last_room = QueueContext(last_speaker=candidate(99, "room", seconds=-100))
    assert ids(order(entries, [ALTERNATE_CHANNEL], last_room)) == [3, 1, 4, 2, 5]


def test_alternate_stakeholders_example():
    entries = [candidate(1, category="ngo"), candidate(2, category="academia"),
               candidate(3, category="state_party"), candidate(4, category="igo"), candidate(5, category="ngo")]
    assert ids(order(entries, [ALTERNATE_STAKEHOLDERS], QueueContext())) == [1, 3, 2, 4, 5]


@PROPERTY
@given(queues(), contexts(), st.sampled_from([
    [ALTERNATE_CHANNEL], [ALTERNATE_CHANNEL, FIRST_COME], [POINTS_OF_ORDER_FIRST, ALTERNATE_CHANNEL]]))
def test_calling_the_head_keeps_the_rest_of_the_order(entries, context, policies):
    """The moderator calls the proposed speaker again and again: the list
    the room sees must not reshuffle under them."""
    current = order(entries, policies, context)
    remaining = list(entries)
    while current:
        head = current[0]
        remaining = [c for c in remaining if c.id != head.id]
        context = QueueContext(last_speaker=head, spoken_organizations=context.spoken_organizations)
        following = order(remaining, policies, context)
        assert ids(following) == ids(current[1:])
        current = following


# -- manual placements -------------------------------------------------------------------------
@PROPERTY
@given(queues(manual=True), combinations, contexts())
def test_manual_placements_keep_their_order_and_are_never_pushed_down(entries, policies, context):
    result = order(entries, policies, context)
    ranked = [c for c in result if c.manual_rank is not None]
    assert ids(ranked) == ids(sorted(ranked, key=manual_key)), "the manual order was changed"
    urgent = urgent_under(policies)
    assert_precedes(result, lambda c: c.manual_rank is not None,
                    lambda c: c.manual_rank is None and not urgent(c),
                    "an entry placed by hand was moved below an automatic one")


def test_a_new_request_does_not_undo_a_manual_order():
    placed = [candidate(1, "room", rank=0.0), candidate(2, "room", rank=1.0), candidate(3, "online", rank=2.0)]
    arrived = placed + [candidate(4, "online"), candidate(5, "room")]
    assert ids(order(arrived, [ALTERNATE_CHANNEL], QueueContext())) == [1, 2, 3, 5, 4]


# -- the defaults ------------------------------------------------------------------------------
def test_the_default_combination_is_made_of_built_ins():
    assert DEFAULT_COMBINATION == ("points_of_order_first", "first_time_first", "alternate_channel")
    assert set(DEFAULT_COMBINATION) <= set(BY_NAME)
    offered = {p.name for p in queue_policies()}
    assert offered == set(BY_NAME)


def test_the_default_combination_on_a_constructive_dialogue():
    """Points of order first, then organizations that have not spoken,
    taking turns between the room and online, then the others."""
    entries = [candidate(1, "room", org="org:spoke"), candidate(2, "room", org="org:a"),
               candidate(3, "room", org="org:b"), candidate(4, "online", org="org:c"),
               candidate(5, "online", kind="point_of_order", org="org:spoke"),
               candidate(6, "online", org="org:spoke2")]
    context = QueueContext(last_speaker=candidate(90, "online", seconds=-100),
                           spoken_organizations=frozenset({"org:spoke", "org:spoke2"}))
    policies = [BY_NAME[name] for name in DEFAULT_COMBINATION]
    # 5 (point of order); then first-timers 2, 3 (room), 4 (online) alternating from the room
    # (5 spoke online); then 1 (room) and 6 (online) alternating after 3 (room).
    assert ids(order(entries, policies, context)) == [5, 2, 4, 3, 6, 1]


# -- a third-party policy written against the hook ------------------------------------------
def _questions_first(entries, before, context, rest):
    return split(entries, lambda c: c.intervention_type == "question", before, rest)


QUESTIONS_FIRST = QueuePolicy("questions_first", "Questions to the panel first",
                              "Questions to the panel come before statements.", _questions_first)


def _replies_urgent(entries, before, context, rest):
    return split(entries, lambda c: c.intervention_type == "reply", before, rest)


REPLIES_URGENT = QueuePolicy("replies_urgent", "Replies at once", "A right of reply goes to the top.",
                             _replies_urgent, urgent=lambda c: c.intervention_type == "reply")


@PROPERTY
@given(queues(), contexts(), st.permutations([POINTS_OF_ORDER_FIRST, QUESTIONS_FIRST, ALTERNATE_CHANNEL]))
def test_a_third_party_policy_composes_with_the_built_ins(entries, context, policies):
    result = order(entries, policies, context)
    assert sorted(ids(result)) == sorted(ids(entries))
    urgent = urgent_under(policies)
    assert_precedes(result, urgent, lambda c: not urgent(c), "a point of order came after another entry")
    automatic = [c for c in result if c.manual_rank is None and not urgent(c)]
    position = [p.name for p in policies]
    if position.index("questions_first") < position.index("alternate_channel"):
        # The custom policy splits; alternation happens inside each part.
        question = lambda c: c.intervention_type == "question"  # noqa: E731
        assert_precedes(automatic, question, lambda c: not question(c), "a question waited behind a statement")
        for part in ([c for c in automatic if question(c)], [c for c in automatic if not question(c)]):
            assert_alternates(part, lambda c: c.channel)
    else:
        assert_alternates(automatic, lambda c: c.channel)


@PROPERTY
@given(queues(), contexts())
def test_a_third_party_urgent_policy_goes_above_manual_placements(entries, context):
    policies = [ALTERNATE_CHANNEL, REPLIES_URGENT, POINTS_OF_ORDER_FIRST]
    result = order(entries, policies, context)
    urgent = urgent_under(policies)
    assert_precedes(result, urgent, lambda c: not urgent(c), "an urgent entry came after another")
    ranked = [c for c in result if c.manual_rank is not None]
    assert ids(ranked) == ids(sorted(ranked, key=manual_key))


def test_a_third_party_policy_example():
    entries = [candidate(1, "room"), candidate(2, "online", kind="question"), candidate(3, "room", kind="question"),
               candidate(4, "online"), candidate(5, "room", kind="point_of_order")]
    policies = [QUESTIONS_FIRST, POINTS_OF_ORDER_FIRST, ALTERNATE_CHANNEL]
    # 5 first (urgent), then questions 2, 3 alternating after the room, then 4 (online) and 1.
    assert ids(order(entries, policies, QueueContext())) == [5, 2, 3, 4, 1]


@pytest.mark.parametrize("policies", [list(p) for n in range(1, 4)
                                      for p in itertools.permutations(BUILT_INS, n)])
def test_every_small_combination_on_a_fixed_queue(policies):
    """Each ordered combination of up to three built-ins, on one busy queue:
    a permutation, and stable under shuffling of the input."""
    rnd = random.Random(7)
    entries = [Candidate(id=i, channel=rnd.choice(CHANNELS), category=rnd.choice(CATEGORIES),
                         intervention_type=rnd.choice(TYPES), organization_key=rnd.choice(ORGS),
                         requested_at=T0 + dt.timedelta(seconds=rnd.randint(0, 20)),
                         manual_rank=rnd.choice([None, None, None, 1.0, 2.0])) for i in range(1, 25)]
    context = QueueContext(last_speaker=entries[0], spoken_organizations=frozenset(ORGS[:2]))
    result = order(entries[1:], policies, context)
    assert sorted(ids(result)) == list(range(2, 25))
    shuffled = entries[1:]
    rnd.shuffle(shuffled)
    assert ids(order(shuffled, policies, context)) == ids(result)
