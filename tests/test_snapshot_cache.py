"""The section cache (``snapshot.SectionCache``): a room that reconnects at
once gets its shared sections built once per version, never someone else's
personal sections, never a stale version, and the live attendance figure
fresh each time."""
from __future__ import annotations

from conftest import run

from moderation.core.sections import SectionCache


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_an_entry_is_built_once_and_expires_after_its_ttl():
    clock = FakeClock()
    cache = SectionCache(ttl=1.0, clock=clock)
    builds = []

    def build():
        builds.append(1)
        return {"n": len(builds)}

    assert cache.get(("d", 1, "queue", None), build) == {"n": 1}
    assert cache.get(("d", 1, "queue", None), build) == {"n": 1}
    clock.now += 1.01
    assert cache.get(("d", 1, "queue", None), build) == {"n": 2}
    assert (cache.hits, cache.misses) == (1, 2)


def test_the_cache_stays_bounded():
    clock = FakeClock()
    cache = SectionCache(ttl=10.0, max_entries=8, clock=clock)
    for i in range(50):
        cache.get(("d", i, "queue", None), lambda i=i: i)
    assert len(cache._entries) <= 8
    assert cache.get(("d", 49, "queue", None), lambda: "rebuilt") == 49


def test_participants_share_sections_but_not_their_own(service, dialogue):
    first = dialogue["principals"]["participant0"]
    second = dialogue["principals"]["participant1"]
    a = service.snapshot(first, dialogue["dialogue_id"])
    b = service.snapshot(second, dialogue["dialogue_id"])
    assert a["version"] == b["version"]
    assert a["sections"]["agenda"] is b["sections"]["agenda"]  # built once
    assert a["sections"]["queue"] is b["sections"]["queue"]
    assert a["sections"]["me"]["participant"]["id"] != b["sections"]["me"]["participant"]["id"]
    assert a["sections"]["my_inputs"] is not b["sections"]["my_inputs"]


def test_a_new_version_is_never_answered_from_the_cache(service, dialogue):
    who = dialogue["principals"]["participant0"]
    before = service.snapshot(who, dialogue["dialogue_id"])
    assert before["sections"]["agenda"]["current_item_id"] is None
    run(service, "agenda.advance", {"dialogue_id": dialogue["dialogue_id"]}, dialogue["principals"]["moderator"])
    after = service.snapshot(who, dialogue["dialogue_id"])
    assert after["version"] > before["version"]
    assert after["sections"]["agenda"]["current_item_id"] is not None


def test_roles_that_see_a_section_differently_get_their_own(service, dialogue):
    participant = service.snapshot(dialogue["principals"]["participant0"], dialogue["dialogue_id"])
    moderator = service.snapshot(dialogue["principals"]["moderator"], dialogue["dialogue_id"])
    assert participant["version"] == moderator["version"]
    assert participant["sections"]["inputs_overview"] is not moderator["sections"]["inputs_overview"]
    assert "participants" not in participant["sections"]


def test_the_online_figure_is_live_and_leaves_out_who_is_checked_in(sqlite_app):
    """Connections change without a new version: the online figure is counted
    for every snapshot, from who is connected now less who is checked in at
    the door (kept per version), and agrees with counting in the database."""
    from conftest import seed_dialogue

    from moderation.features.accreditation.checkin import online_now

    service = sqlite_app.extensions["moderation"]
    seeded = seed_dialogue(service)
    did = seeded["dialogue_id"]
    socketio = sqlite_app.extensions["socketio"]
    run(service, "participants.check_in", {"dialogue_id": did, "token": seeded["tokens"]["participant0"]})
    clients = [socketio.test_client(sqlite_app, auth={"dialogue_id": did, "token": seeded["tokens"][who]})
               for who in ("participant0", "participant1")]
    assert all(client.is_connected() for client in clients)
    first = service.snapshot(seeded["principals"]["moderator"], did)["sections"]["attendance"]
    assert first == {"in_room": 1, "online": 1}
    with service.db.session() as session:
        assert online_now(session, did) == 1  # the same figure, counted in the database
    clients[1].disconnect()
    again = service.snapshot(seeded["principals"]["moderator"], did)["sections"]["attendance"]
    assert again == {"in_room": 1, "online": 0}  # same version, a second later: still live
    clients[0].disconnect()
