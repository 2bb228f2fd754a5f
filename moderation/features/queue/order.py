"""Ordering the speaker queue: pure functions over candidates, so that every
rule and combination can be tested without a database.

The effective order is: urgent entries (points of order, when that policy is
on) in policy order, then the entries the moderator placed by hand in the
order given, then everyone else in policy order. A manual placement is never
undone by the policies; the moderator returns to the automatic order
explicitly.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

STATE_CATEGORIES = frozenset({"state_party", "igo"})


@dataclass(frozen=True)
class Candidate:
    id: int
    channel: str
    category: str
    intervention_type: str
    organization_key: str
    requested_at: dt.datetime
    manual_rank: float | None = None


@dataclass(frozen=True)
class QueueContext:
    """What the policies may know: who spoke last on this item and which
    organizations have already spoken in this dialogue."""

    last_speaker: Candidate | None = None
    spoken_organizations: frozenset[str] = field(default_factory=frozenset)


Rest = Callable[[list[Candidate], Candidate | None], list[Candidate]]


def by_arrival(entries: Iterable[Candidate]) -> list[Candidate]:
    return sorted(entries, key=lambda c: (c.requested_at, c.id))


def order(candidates: Sequence[Candidate], policies: Sequence, context: QueueContext) -> list[Candidate]:
    """The queue in effective order (see the module docstring)."""

    def arrange(entries: list[Candidate], index: int, before: Candidate | None) -> list[Candidate]:
        if index >= len(policies) or len(entries) <= 1:
            return by_arrival(entries)
        rest: Rest = lambda sub, prev: arrange(list(sub), index + 1, prev)  # noqa: E731
        return policies[index].arrange(list(entries), before, context, rest)

    ranked = sorted((c for c in candidates if c.manual_rank is not None),
                    key=lambda c: (c.manual_rank, c.requested_at, c.id))
    unranked = [c for c in candidates if c.manual_rank is None]
    # Urgent entries lead whatever the policy's place in the combination and
    # whether or not anything was placed by hand: a point of order that came
    # first only when the list had manual placements (or only when its policy
    # was listed first) would jump around as the moderator works the list.
    urgent_checks = [p.urgent for p in policies if p.urgent is not None]
    urgent = [c for c in unranked if any(check(c) for check in urgent_checks)]
    urgent_ids = {c.id for c in urgent}
    others = [c for c in unranked if c.id not in urgent_ids]
    head = arrange(urgent, 0, context.last_speaker)
    before = ranked[-1] if ranked else head[-1] if head else context.last_speaker
    return head + ranked + arrange(others, 0, before)


# -- building blocks for policies ------------------------------------------------
def split(entries: list[Candidate], first: Callable[[Candidate], bool], before: Candidate | None,
          rest: Rest) -> list[Candidate]:
    """Entries for which ``first`` holds, then the others, each ordered by ``rest``."""
    leading = rest([c for c in entries if first(c)], before)
    trailing = rest([c for c in entries if not first(c)], leading[-1] if leading else before)
    return leading + trailing


def alternate(entries: list[Candidate], side: Callable[[Candidate], str], before: Candidate | None,
              rest: Rest) -> list[Candidate]:
    """Take turns between two sides (room/online, States/stakeholders),
    starting with the side that did not speak last; when one side has no one
    left, the other continues. Without a previous speaker, the side of the
    earliest request starts."""
    sides: dict[str, list[Candidate]] = {}
    for candidate in by_arrival(entries):
        sides.setdefault(side(candidate), []).append(candidate)
    if len(sides) < 2:
        return rest(entries, before)
    queues = {name: list(rest(group, None)) for name, group in sides.items()}
    # ``sides`` was filled in arrival order, so ``names[0]`` is the side of
    # the earliest request, with ties broken as first come, first served does.
    names = list(queues)
    if before is not None and side(before) in queues:
        turn = next(n for n in names if n != side(before))
    else:
        turn = names[0]
    result: list[Candidate] = []
    while any(queues.values()):
        if not queues[turn]:
            turn = next(n for n in names if queues[n])
        result.append(queues[turn].pop(0))
        others = [n for n in names if n != turn and queues[n]]
        if others:
            turn = others[0]
    return result


def is_state(candidate: Candidate) -> bool:
    return candidate.category in STATE_CATEGORIES
