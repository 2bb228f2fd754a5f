"""A first pass over the command layer; the full suites live beside it."""
from conftest import run

from moderation.errors import CommandError


def test_advance_runs_the_agenda_in_order(service, dialogue):
    moderator = dialogue["principals"]["moderator"]
    first, second = dialogue["item_ids"][:2]
    assert run(service, "agenda.advance", {"dialogue_id": dialogue["dialogue_id"]}, moderator)["current_item_id"] == first
    assert run(service, "agenda.advance", {"dialogue_id": dialogue["dialogue_id"], "from_item_id": first},
               moderator)["current_item_id"] == second
    try:
        run(service, "agenda.advance", {"dialogue_id": dialogue["dialogue_id"], "from_item_id": first}, moderator)
    except CommandError as exc:
        assert exc.code == "conflict"
    else:
        raise AssertionError("advancing from a stale item must be refused")
