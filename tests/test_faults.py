"""Faults on the real server (``python run.py``, eventlet, in a subprocess)
with real Socket.IO clients: the server killed (``kill -9``) in the middle of
an input burst, Redis restarted under two server processes, the database
unreachable for a while, and a client flooding the server with events.

Each test starts servers of its own (the faults would disturb a shared one)
and bounds every wait.
"""
from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
import socketio
from conftest import empty_postgres, require, seed_dialogue
from fault_tools import RedisProcess, TcpProxy
from server import Client, LiveServer, disconnect_all, run_cli
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from moderation.core.auth import SYSTEM
from moderation.core.config import SETTINGS
from moderation.core.execution import execute
from moderation.models import IdempotencyRecord, Input
from moderation.web.realtime import SNAPSHOT_COST

pytestmark = pytest.mark.server


def setting_default(name: str):
    return next(setting.default for setting in SETTINGS if setting.name == name)


@pytest.fixture
def clients():
    """Clients opened by a test, disconnected after it."""
    opened: list[Client] = []

    def open_client(*args, timeout: float = 10, **kwargs) -> Client:
        client = Client(*args, **kwargs)
        opened.append(client)
        return client.connect(timeout)

    yield open_client
    disconnect_all(opened)


def connect_all(open_client, server, tokens: list[str], dialogue_id: int) -> list[Client]:
    """Connect many clients, a few at a time (the server's accept backlog is
    small and this machine is slow). A connection not set up in 20 s is
    tried once more, as the participant page does: on a machine that runs
    other tests' browsers and servers beside this one, one of forty was once
    not answered in time; the faults come after."""
    def connect(token: str) -> Client:
        try:
            return open_client(server, token, dialogue_id, timeout=20)
        except socketio.exceptions.ConnectionError:
            try:
                return open_client(server, token, dialogue_id, timeout=20)
            except socketio.exceptions.ConnectionError as exc:
                raise AssertionError(f"a participant could not connect twice: {exc}\n--- server stderr ---\n"
                                     f"{server.stderr[-4000:]}") from exc

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(connect, tokens))


# -- kill -9 in the middle of an input burst -----------------------------------------------
PARTICIPANTS = 40
INPUTS_EACH = 3
ACK_TIMEOUT = 5.0
BURST_DEADLINE = 35.0   # every submission must be acknowledged within this


@dataclass
class Submission:
    key: str
    text: str
    attempts: int = 0
    acked: dict | None = None
    errors: list[str] = field(default_factory=list)


def submit_until_acknowledged(client: Client, submissions: list[Submission], deadline: float) -> None:
    """What the participant page's outbox does: send each input with its own
    idempotency key and, when no answer comes (timeout, connection gone) or
    the server asks to try later, send it again with the same key."""
    for item in submissions:
        while item.acked is None and time.monotonic() < deadline:
            if not client.connected:
                time.sleep(0.05)
                continue
            item.attempts += 1
            try:
                ack = client.call("inputs.submit", {"text": item.text, "kind": "suggestion"}, key=item.key,
                                  timeout=ACK_TIMEOUT)
            except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError,
                    socketio.exceptions.DisconnectedError) as exc:
                item.errors.append(type(exc).__name__)
                continue
            if ack.get("ok"):
                item.acked = ack
            else:
                item.errors.append(ack["error"]["code"])
                if ack["error"]["code"] not in ("unavailable", "rate_limited"):
                    return  # a refusal a retry cannot change: the test reports it
                time.sleep(0.2)


def register(service, dialogue_id: int, count: int) -> list[str]:
    """Register participants through the command layer, as the secretariat
    would, without building change messages (nobody follows this dialogue
    yet); their link tokens."""
    tokens = []
    for i in range(count):
        result = execute(service.db.sessions, service.plugins, SYSTEM, "participant.register", {
            "dialogue_id": dialogue_id, "name": f"Participant {i:02d}", "channel": ("room", "online")[i % 2],
            "organization": {"name": f"Organization {i // 2}", "category": "ngo"}}).result  # one in the room each
        tokens.append(result["token"])
    return tokens


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_kill_9_in_the_middle_of_an_input_burst_loses_nothing_and_stores_nothing_twice(
        tmp_path, database, clients, request):
    database_url = None
    if database == "postgres":
        database_url = request.getfixturevalue("postgres_server_url")
        empty_postgres(database_url)
    # Enough input allowance for the burst: this test is about the kill, not the rate limit.
    live = LiveServer(tmp_path / "server", database_url=database_url,
                      env={"MODERATION_INPUT_RATE_BURST": "50", "MODERATION_INPUT_RATE_PER_MINUTE": "600"})
    try:
        live.start()
        service = live.app().extensions["moderation"]
        seeded = seed_dialogue(service, participants=())
        dialogue_id = seeded["dialogue_id"]
        moderator = clients(live, seeded["tokens"]["moderator"], dialogue_id)
        moderator.command("agenda.advance")  # an item runs: inputs are open
        participants = connect_all(clients, live, register(service, dialogue_id, PARTICIPANTS), dialogue_id)

        run = uuid.uuid4().hex[:8]
        plans = [[Submission(f"burst-{run}-{p}-{n}",
                             f"Input {n} of participant {p} ({run}): fund shelters and legal aid for survivors.")
                  for n in range(INPUTS_EACH)] for p in range(PARTICIPANTS)]
        everything = [item for plan in plans for item in plan]
        deadline = time.monotonic() + BURST_DEADLINE
        threads = [threading.Thread(target=submit_until_acknowledged, args=(client, plan, deadline), daemon=True)
                   for client, plan in zip(participants, plans, strict=False)]
        for thread in threads:
            thread.start()

        # Kill the server once about a third of the burst is acknowledged.
        while sum(item.acked is not None for item in everything) < len(everything) // 3:
            assert time.monotonic() < deadline, "the burst did not get going"
            time.sleep(0.01)
        live.kill9()
        acked_before_kill = [item for item in everything if item.acked is not None]
        assert len(acked_before_kill) < len(everything), "the kill came after the burst"
        live.restart()
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()) + ACK_TIMEOUT + 1)
        assert not any(thread.is_alive() for thread in threads), "a client is still retrying"

        unanswered = [(item.key, item.errors) for item in everything if item.acked is None]
        assert unanswered == [], f"{len(unanswered)} submissions never acknowledged: {unanswered[:5]}"
        resent = [item for item in everything if item.attempts > 1]
        assert resent, "no submission had to be sent again: the kill did not hit the burst"

        # The database: every input exactly once, under the id its author was given.
        with live.app().extensions["db"].session() as s:
            rows = s.execute(select(Input.text, Input.id).where(Input.dialogue_id == dialogue_id)).all()
            keys = dict(s.execute(select(IdempotencyRecord.key, func.count()).where(
                IdempotencyRecord.key.like(f"burst-{run}-%")).group_by(IdempotencyRecord.key)).all())
        stored: dict[str, list[int]] = {}
        for text, input_id in rows:
            stored.setdefault(text, []).append(input_id)
        lost = [item.key for item in everything if item.text not in stored]
        duplicates = {text: ids for text, ids in stored.items() if len(ids) > 1}
        assert lost == [], f"{len(lost)} inputs lost"
        assert duplicates == {}, f"{len(duplicates)} inputs stored twice"
        assert len(rows) == len(everything), "no other input appeared"
        assert all(stored[item.text] == [item.acked["result"]["input_id"]] for item in everything), \
            "each author's acknowledgement names the stored input"
        assert all(stored.get(item.text) for item in acked_before_kill), "acknowledged before the kill: kept"
        assert keys == {item.key: 1 for item in everything}, "one idempotency record per submission"
        replayed = sum(1 for item in everything if item.acked["replayed"])
        print(f"\n{database}: {len(everything)} inputs, {len(acked_before_kill)} acknowledged before the kill, "
              f"{len(resent)} sent again, {replayed} answered from the stored record")
        assert live.running
    finally:
        live.close()


# -- the database unreachable for a while ----------------------------------------------------
def wait_until(condition, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(interval)


def unavailable(ack: dict) -> bool:
    error = ack.get("error") or {}
    return ack.get("ok") is False and error.get("code") == "unavailable" and "database" in error.get("message", "")


@pytest.mark.postgres
def test_the_database_unreachable_for_a_while(tmp_path, postgres_server_url, clients):
    """PostgreSQL behind a proxy the test cuts: every client gets a clear
    answer meanwhile, the server stays up, and after the database is back
    the same clients carry on without a restart."""
    empty_postgres(postgres_server_url)
    direct = make_url(postgres_server_url)
    with TcpProxy(direct.port or 5432, direct.host or "127.0.0.1") as proxy:
        proxied = direct.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        live = LiveServer(tmp_path / "server", database_url=proxied)
        try:
            live.start()
            dialogue_id = live.dialogue_id
            token = run_cli("token", "--dialogue", str(dialogue_id), "--role", "moderator", env=live.env)
            assert token.returncode == 0, token.stderr
            bearer = {"Authorization": f"Bearer {token.stdout.strip()}"}
            moderator = clients(live, live.token("moderator"), dialogue_id)
            participant = clients(live, live.token("participant"), dialogue_id)
            started = moderator.command("agenda.advance")["version"]
            participant.wait_for_version(started)

            proxy.cut()
            # Commands: a clear refusal, nothing half done.
            ack = moderator.call("agenda.pause_item", timeout=20)
            assert unavailable(ack), ack
            ack = participant.call("inputs.submit", {"text": "Written while the database is away."}, timeout=20)
            assert unavailable(ack), ack
            # Reads over the open connection.
            assert unavailable(moderator.sio.call("snapshot", {}, timeout=20))
            assert unavailable(participant.sio.call("inputs.list", {}, timeout=20))
            # A new connection is refused with the reason.
            newcomer = Client(live, live.token("display"), dialogue_id, reconnection=False)
            with pytest.raises(socketio.exceptions.ConnectionError):
                newcomer.connect(timeout=20)
            refusal = newcomer.of("connect_error")[0]
            assert refusal["data"]["code"] == "unavailable", refusal
            # HTTP: the API says 503 in JSON, a page says so in words, /healthz reports it.
            status, body = live.get_json(f"/api/v1/dialogues/{dialogue_id}/snapshot", headers=bearer, timeout=20)
            assert status == 503 and unavailable(body), (status, body)
            status, page = live.request("GET", f"/l/{live.token('participant_online')}", timeout=20)
            assert status == 503 and "Temporarily unavailable" in page, (status, page[:300])
            status, health = live.get_json("/healthz", timeout=20)
            assert status == 503 and health["database"]["status"] == "error", health
            # The server is up, and so are the connections that do not need the database.
            assert live.running
            assert moderator.connected and participant.connected

            proxy.restore()
            # The same clients, without a restart of anything.
            ack = wait_until(lambda: (lambda a: a if a.get("ok") else None)(
                moderator.call("agenda.pause_item", timeout=20)), 20, "the first command after the database is back")
            assert ack["version"] > started
            assert participant.wait_for_version(ack["version"])["sections"]["agenda"]
            submitted = participant.command("inputs.submit", {"text": "Written once the database is back."})
            assert submitted["result"]["status"] == "published"
            # (>=: the server may record the participant's attendance meanwhile)
            assert moderator.fresh_snapshot()["version"] >= submitted["version"]
            status, body = live.get_json(f"/api/v1/dialogues/{dialogue_id}/snapshot", headers=bearer)
            assert status == 200 and body["snapshot"]["version"] >= submitted["version"]
            status, health = live.get_json("/healthz")
            assert status == 200 and health["database"]["status"] == "ok"
            clients(live, live.token("display"), dialogue_id)
            assert live.running
            assert "unhandled error" not in live.stderr, "every failure was answered as one of the database"
        finally:
            live.close()


# -- Redis restarted under two server processes ------------------------------------------------
OUTAGE = 8.0


def start_all(*servers: LiveServer) -> None:
    """Start servers side by side (each start takes seconds on this machine)."""
    with ThreadPoolExecutor(len(servers)) as pool:
        for started in pool.map(lambda server: server.start(), servers):
            assert started.running


def change_arrives(moderator: Client, participant: Client, timeout: float) -> tuple[dict, float]:
    """Send moderator commands until one reaches ``participant`` (the first
    ones after a Redis outage may be published while nobody listens).
    Returns the change and the seconds it took."""
    began = time.monotonic()
    deadline = began + timeout
    while True:
        ack = moderator.command("agenda.adjust_time", {"seconds": 60}, timeout=15)
        try:
            change = participant.wait_for_version(ack["version"], timeout=min(0.5, max(0.1, deadline - time.monotonic())))
            return change, time.monotonic() - began
        except AssertionError:
            assert time.monotonic() < deadline, f"no broadcast reached the other process within {timeout} s"


@pytest.mark.postgres
@pytest.mark.redis
def test_redis_restarted_while_clients_are_connected(tmp_path, postgres_server_url, clients):
    require("redis-server", RedisProcess.available(), "install redis-server (apt-get install redis-server)")
    empty_postgres(postgres_server_url)
    with RedisProcess(tmp_path / "redis") as redis:
        first = LiveServer(tmp_path / "a", database_url=postgres_server_url, message_queue=redis.url)
        second = LiveServer(tmp_path / "b", demo=False, database_url=postgres_server_url, message_queue=redis.url)
        try:
            start_all(first, second)  # the schema is current: the second need not wait for the first
            dialogue_id = first.dialogue_id
            moderator = clients(first, first.token("moderator"), dialogue_id)
            remote = clients(second, first.token("participant"), dialogue_id)
            local = clients(first, first.token("participant_online"), dialogue_id)
            ack = moderator.command("agenda.advance")
            for participant in (remote, local):
                participant.wait_for_version(ack["version"])

            redis.kill()
            # Commands still work: they are stored, only their broadcast is lost.
            during = moderator.command("agenda.adjust_time", {"seconds": 60}, timeout=20)
            assert during["version"] > ack["version"]
            for server in (first, second):
                status, health = server.get_json("/healthz", timeout=20)
                assert status == 503 and health["message_queue"]["status"] == "error", health
            seen = remote.changes[-1]["version"]
            # Redis stays away for a while: long enough for python-socketio's
            # own manager to wait 8 s between attempts, not ours (at most 2 s).
            time.sleep(OUTAGE)
            redis.start()

            change, took = change_arrives(moderator, remote, 30)
            print(f"\nbroadcasts through the other process resumed {took:.1f} s after Redis was back")
            assert took < 5, "the processes should listen again within seconds of Redis being back"
            assert change["prev_version"] > seen, "the client can tell that it missed versions"
            assert change["sections"]["agenda"]["current_item_id"] == ack["result"]["current_item_id"]
            # Both ways, and in each process.
            following = moderator.command("agenda.adjust_time", {"seconds": 60})
            for participant in (remote, local):
                participant.wait_for_version(following["version"], timeout=10)
            ended = clients(second, first.token("moderator"), dialogue_id).command("agenda.end_item")
            for participant in (remote, local, moderator):
                participant.wait_for_version(ended["version"], timeout=10)
            # A client that missed the versions of the outage asks for a fresh snapshot.
            assert remote.fresh_snapshot()["version"] >= ended["version"]
            for server in (first, second):
                assert server.running
                status, health = server.get_json("/healthz")
                assert status == 200 and health["message_queue"]["status"] == "ok", health
            assert remote.connected and local.connected and moderator.connected
        finally:
            first.close()
            second.close()


# -- a client flooding the server with events --------------------------------------------------
EVENT_BURST = setting_default("EVENT_BURST")
EVENT_RATE = setting_default("EVENT_RATE_PER_SECOND")
FLOOD_AFTER = setting_default("FLOOD_DISCONNECT_AFTER")


def flood(client: Client, event: str, limit: int, answers: dict[str, int], lock: threading.Lock) -> int:
    """Emit ``event`` as fast as the connection takes it (without waiting for
    answers) until the server ends the connection or ``limit`` are sent."""
    def answered(ack=None):
        code = "ok" if isinstance(ack, dict) and ack.get("ok") else \
            (ack or {}).get("error", {}).get("code", "?") if isinstance(ack, dict) else "?"
        with lock:
            answers[code] = answers.get(code, 0) + 1

    sent = 0
    while sent < limit and client.connected:
        if client.sio.eio.queue.qsize() > 500:  # the socket is full: let the writer catch up
            time.sleep(0.001)
            continue
        try:
            client.sio.emit(event, {}, callback=answered)
        except socketio.exceptions.BadNamespaceError:
            break
        sent += 1
    return sent


def test_a_flooding_client_is_throttled_then_disconnected_and_the_others_are_served(tmp_path, clients):
    with LiveServer(tmp_path / "server") as live:
        dialogue_id = live.dialogue_id
        moderator = clients(live, live.token("moderator"), dialogue_id)
        participant = clients(live, live.token("participant"), dialogue_id)
        started = moderator.command("agenda.advance")["version"]
        participant.wait_for_version(started)
        flooder = clients(live, live.token("participant_online"), dialogue_id, reconnection=False)

        answers: dict[str, int] = {}
        lock = threading.Lock()
        began = time.monotonic()
        sending = ThreadPoolExecutor(1).submit(flood, flooder, "snapshot", 5_000, answers, lock)
        # While it floods, the room carries on.
        ack = moderator.command("agenda.adjust_time", {"seconds": 60}, timeout=15)
        participant.wait_for_version(ack["version"], timeout=10)
        flooder.wait_for(lambda: flooder.disconnects, 20, "the server to disconnect the flooding client")
        lasted = time.monotonic() - began
        sent = sending.result(20)

        rate = sent / lasted
        print(f"\nflooding client: {sent} events in {lasted:.2f} s ({rate:.0f}/s), answers {answers}")
        assert sent > EVENT_BURST + FLOOD_AFTER, "the client was cut before it had flooded"
        # Throttled: at most the burst plus the refill was served (a snapshot
        # counts as SNAPSHOT_COST events: building one is what costs) ...
        assert answers.get("ok", 0) <= (EVENT_BURST + EVENT_RATE * lasted) / SNAPSHOT_COST + 1, answers
        # ... the rest was refused with a reason, then the connection was closed.
        assert answers.get("rate_limited", 0) >= FLOOD_AFTER - 1, answers
        assert set(answers) <= {"ok", "rate_limited", "unauthenticated", "?"}, answers
        assert not flooder.connected
        assert "messages over the rate limit" in live.stderr
        # Reconnecting at once does not buy a fresh allowance: the link waits.
        again = Client(live, live.token("participant_online"), dialogue_id, reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            again.connect(timeout=10)
        refusal = again.of("connect_error")[0]["data"]
        assert refusal["code"] == "rate_limited" and refusal["details"]["retry_after"] > 0, refusal
        # Everyone else is served as before.
        assert live.running and moderator.connected and participant.connected
        after = moderator.command("agenda.adjust_time", {"seconds": -60})
        assert participant.wait_for_version(after["version"], timeout=5)
        assert participant.fresh_snapshot()["version"] >= after["version"]
