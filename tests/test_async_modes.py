"""The async mode is a setting: every mode the README offers (eventlet,
gevent, threading) serves a real session of dozens of screens — the agenda,
the speaker queue, inputs, exports and a restart — within a time bound that
catches a stall. (Under Werkzeug's development server, which the threading
mode used to run on, such a flow stalled: WebSocket frames were read as HTTP
requests.)"""
from __future__ import annotations

import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import seed_dialogue
from server import Client, LiveServer, disconnect_all

pytestmark = pytest.mark.server

PARTICIPANTS = 40
ASKING = 20        # participants who ask for the floor
WAIT = 20.0        # s for any one thing a client waits for
# The whole flow takes 10-20 s in each mode here (two cores, shared); a
# stalled server takes the time of every wait that fails.
FLOW_SECONDS = 90.0


def each(clients, action):
    """Run ``action(client)`` for every client at once; the results in order."""
    with ThreadPoolExecutor(max_workers=10) as pool:
        return list(pool.map(action, clients))


def sees_version(client: Client, version: int) -> dict:
    """The first change (or snapshot, after a reconnection) at ``version``
    or later that this client received."""
    return client.wait_for(lambda: next((m for event, m in list(client.events) if event in ("change", "snapshot")
                                         and m["version"] >= version), None),
                           WAIT, f"a change at version {version} or later")


@pytest.mark.parametrize("mode", ["eventlet", "gevent", "threading"])
def test_a_whole_session_of_dozens_of_screens_runs_under(mode, tmp_path):
    with LiveServer(tmp_path, async_mode=mode) as server:
        started = time.monotonic()
        assert f"({mode})" in server.stdout
        participants_seed = [(f"Participant {n}", "online", "ngo") for n in range(PARTICIPANTS)]
        seeded = seed_dialogue(server.app().extensions["moderation"], participants=participants_seed)
        dialogue_id = seeded["dialogue_id"]
        tokens = seeded["tokens"]
        staff = [Client(server, tokens[role], dialogue_id) for role in ("moderator", "rapporteur", "display")]
        moderator, rapporteur, display = staff
        participants = [Client(server, tokens[f"participant{n}"], dialogue_id) for n in range(PARTICIPANTS)]
        everyone = staff + participants
        try:
            each(everyone, lambda client: client.connect(WAIT))

            # The moderator moves to the panel discussion; every screen follows.
            current = None
            for _ in range(3):
                ack = moderator.command("agenda.advance", {"from_item_id": current} if current else {})
                current = ack["result"]["current_item_id"]
            assert current == seeded["item_ids"][2]
            each(everyone, lambda client, ack=ack: sees_version(client, ack["version"]))

            # Twenty ask for the floor at once; the display shows them all.
            asks = each(participants[:ASKING],
                        lambda client: client.command("queue.request_floor", {"intervention_type": "statement"}))
            last = max(a["version"] for a in asks)
            display.wait_for(lambda: any(c["version"] >= last and len(c["sections"].get("queue", {})
                                                                        .get("waiting", [])) == ASKING
                                         for c in display.changes), WAIT, "the whole queue on the display")

            # The moderator calls three speakers; every screen sees each one.
            for _ in range(3):
                ack = moderator.command("queue.call_next")
                speaking = ack["result"]["speaking_id"]
                each(everyone, lambda client, ack=ack: sees_version(client, ack["version"]))
                assert display.fresh_snapshot()["sections"]["queue"]["current"]["id"] == speaking

            # Every participant sends an input at once; all are stored.
            acks = each(participants, lambda client: client.command(
                "inputs.submit", {"text": f"Point from {client.auth['token'][:6]}"}))
            assert len({a["result"]["input_id"] for a in acks}) == PARTICIPANTS
            page = rapporteur.sio.call("inputs.list", {"per_page": 200}, timeout=WAIT)
            assert page["ok"] and page["total"] == PARTICIPANTS
            # The assistant compares them in a worker thread of this async mode.
            similar = rapporteur.sio.call("assist.duplicates", {"input_id": page["items"][0]["id"]}, timeout=WAIT)
            assert similar["ok"] and len(similar["items"][0]["candidates"]) == 3, similar
            clusters = rapporteur.sio.call("assist.theme_clusters", {}, timeout=WAIT)
            assert clusters["ok"] and sum(len(c["input_ids"]) for c in clusters["clusters"]) == PARTICIPANTS

            # The summary exports while the room is connected.
            headers = {"Authorization": f"Bearer {tokens['api_moderator']}"}
            for fmt in ("md", "docx"):
                status, _body = server.request("GET", f"/api/v1/dialogues/{dialogue_id}/summary/export?format={fmt}",
                                               headers=headers, timeout=WAIT)
                assert status == 200, (fmt, status)

            # A restart: every screen reconnects by itself at the same version.
            version = moderator.fresh_snapshot()["version"]
            snapshots_before = [len(client.snapshots) for client in everyone]
            server.restart()
            each(list(zip(everyone, snapshots_before, strict=False)), lambda pair: pair[0].wait_for(
                lambda: len(pair[0].snapshots) > pair[1] and pair[0].snapshots[-1]["version"] >= version,
                WAIT, "the snapshot after the restart"))
            ack = moderator.command("queue.call_next")
            each(everyone, lambda client, ack=ack: sees_version(client, ack["version"]))

            elapsed = time.monotonic() - started
            assert elapsed < FLOW_SECONDS, f"the session took {elapsed:.0f} s under {mode}"
        finally:
            disconnect_all(everyone)
        logs = "".join((tmp_path / f"stderr-{n}.log").read_text() for n in range(1, server.starts + 1))
        assert "Traceback" not in logs, logs
        assert "Bad HTTP" not in logs and "Bad request" not in logs, logs  # WebSocket frames read as HTTP
        assert not re.search(r"Warning\b", logs), logs  # eventlet's deprecation warning among others


def test_no_async_library_is_imported_into_the_test_process():
    """eventlet and gevent belong to the server process only."""
    assert "eventlet" not in sys.modules
    assert "gevent" not in sys.modules


def test_the_server_module_patches_before_the_application_is_imported():
    """``moderation.server`` (run.py, ``moderation run``) monkey-patches
    eventlet or gevent first: importing it, and the package, must not import
    Flask, SQLAlchemy or Socket.IO yet."""
    import subprocess

    from server import ROOT
    probe = ("import sys, moderation.server; "
             "print(sorted({m.split('.')[0] for m in sys.modules} & "
             "{'flask', 'flask_socketio', 'werkzeug', 'sqlalchemy', 'socketio', 'engineio', 'eventlet', 'gevent'}))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", (done.stdout, done.stderr)


def test_a_websocket_closed_first_by_its_client_leaves_no_traceback_in_threading_mode():
    """python-engineio's writer thread closes its WebSocket when the
    connection ends; when the client had closed it first, that raises
    OSError in the thread. Under threading (gunicorn) that is logged at
    DEBUG, and any other exception of a thread still reaches the default hook."""
    import threading

    from moderation.server import quiet_closed_websockets

    reached = []
    hook = quiet_closed_websockets(lambda args: reached.append(args.exc_type))
    namespace: dict = {}
    exec(compile("def writer():\n    raise OSError(9, 'Bad file descriptor')\n",  # as engineio's writer
                 "/site-packages/engineio/socket.py", "exec"), namespace)

    def other():
        raise OSError("not a WebSocket")

    for target in (namespace["writer"], other):
        thread = threading.Thread(target=target)
        previous, threading.excepthook = threading.excepthook, hook
        try:
            thread.start()
            thread.join(10)
        finally:
            threading.excepthook = previous
    assert reached == [OSError]
