"""Who is online now, across the processes of a deployment: each process
keeps its participants in Redis with an expiry, the figure is their union,
a process killed without a goodbye drops out after the expiry, and without
Redis each process counts its own connections."""
from __future__ import annotations

import logging
import time
import uuid
from types import SimpleNamespace

import pytest
from conftest import reset_postgres
from server import Client, LiveServer, disconnect_all, wait_until

from moderation.features.accreditation.presence import EXPIRY, HEARTBEAT, READ_CACHE, SharedPresence
from moderation.models import Role


def process(*connections):
    """A stand-in for one process's realtime layer: its open connections,
    each ``(dialogue_id, participant_id or None, role)``."""
    return SimpleNamespace(connections={
        f"sid{n}": SimpleNamespace(dialogue_id=d, participant_id=p, role=role)
        for n, (d, p, role) in enumerate(connections)})


def participant(dialogue_id: int, participant_id: int):
    return (dialogue_id, participant_id, Role.PARTICIPANT)


@pytest.mark.redis
def test_every_process_counts_its_share_and_a_silent_one_drops_out_after_the_expiry(redis_url):
    channel = f"presence-test-{uuid.uuid4().hex[:8]}"
    first = SharedPresence(process(participant(1, 10), participant(1, 11), (1, None, Role.DISPLAY),
                                   participant(2, 20)), redis_url, channel)
    second = SharedPresence(process(participant(1, 11), participant(1, 12)), redis_url, channel, expiry=1)
    elsewhere = SharedPresence(process(participant(1, 99)), redis_url, f"{channel}-other")
    for one in (first, second, elsewhere):
        one.publish()
    # The union: a participant on two processes counts once; another
    # deployment's channel is not counted.
    assert first.participant_ids(1) == second.participant_ids(1) == {10, 11, 12}
    assert first.participant_ids(2) == second.participant_ids(2) == {20}
    assert elsewhere.participant_ids(1) == {99}
    # A process that leaves gracefully takes its share back at once.
    first.withdraw()
    time.sleep(READ_CACHE + 0.1)  # the other's share is read again after READ_CACHE
    assert second.participant_ids(1) == {11, 12} and second.participant_ids(2) == set()
    first.publish()
    # A process that stops renewing (killed) drops out after its expiry.
    wait_until(lambda: first.participant_ids(1) == {10, 11}, 5, "the silent process to drop out")
    assert first.redis.smembers(first._processes_key(1)) == {first.process.encode()}  # noqa: SLF001
    # Only one process tells the screens a figure.
    assert first.announce(1, 2) is True
    assert second.announce(1, 2) is False
    assert second.announce(1, 3) is True
    for one in (first, second, elsewhere):
        one.withdraw()


def test_without_redis_each_process_counts_its_own_and_says_so_once(caplog):
    presence = SharedPresence(process(participant(1, 10), participant(1, 11)), "redis://127.0.0.1:1/0", "x")
    with caplog.at_level(logging.INFO, logger="moderation.features.accreditation.presence"):
        presence.publish()
        started = time.monotonic()
        for _ in range(20):
            assert presence.participant_ids(1) == {10, 11}
        assert time.monotonic() - started < 0.5, "Redis is not asked again at once"
        assert presence.announce(1, 2) is True and presence.announce(1, 2) is False
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "this process's connections only" in warnings[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.server
@pytest.mark.postgres
@pytest.mark.redis
def test_two_processes_count_each_others_participants_and_forget_a_killed_one(tmp_path, postgres_server_url,
                                                                                redis_url):
    reset_postgres(postgres_server_url)
    first = LiveServer(tmp_path / "a", database_url=postgres_server_url, message_queue=redis_url)
    second = LiveServer(tmp_path / "b", demo=False, database_url=postgres_server_url, message_queue=redis_url)
    clients: list[Client] = []
    try:
        first.start()
        second.start()
        dialogue_id = first.dialogue_id
        display = Client(first, first.token("display"), dialogue_id)
        clients += [display, Client(first, first.token("participant"), dialogue_id),
                    Client(second, first.token("participant_online"), dialogue_id)]
        for client in clients:
            client.connect()

        def online_on_display(expected: int, timeout: float) -> None:
            display.wait_for(lambda: (display.of("presence") or [{}])[-1].get("online") == expected, timeout,
                             f"the display to show {expected} online")
            # A snapshot may count the other processes as they were up to READ_CACHE s ago.
            wait_until(lambda: display.fresh_snapshot()["sections"]["attendance"]["online"] == expected,
                       READ_CACHE + 2, f"a snapshot with {expected} online")

        online_on_display(2, 10)
        moderator = Client(second, first.token("moderator"), dialogue_id).connect()
        clients.append(moderator)
        assert moderator.snapshots[0]["sections"]["attendance"]["online"] == 2

        second.kill9()
        online_on_display(1, EXPIRY + HEARTBEAT + 5)
        assert "Traceback" not in first.stderr, first.stderr
    finally:
        disconnect_all(clients)
        first.close()
        second.close()
