"""The message queue between server processes (Flask-SocketIO's
``message_queue``), made to come back promptly after a Redis outage.

python-socketio's ``RedisManager`` reconnects by itself, but it doubles its
wait between attempts up to a minute: after Redis has been away for half a
minute, the processes stay deaf to each other for up to half a minute more,
and every broadcast of that time is lost (each process receives its own
broadcasts through Redis too). Here the wait stays short, so broadcasts
resume within about ``RETRY_CAP`` seconds of Redis being back. Clients see
the versions they missed as a gap (``prev_version``) and fetch a snapshot.
"""
from __future__ import annotations

import time
from typing import Any

from socketio import RedisManager

RETRY_FIRST = 0.5  # s before the first attempt to reconnect
RETRY_CAP = 2.0    # s between attempts at most


class PromptRedisManager(RedisManager):
    """``RedisManager`` with a short, capped wait between reconnection attempts."""

    def _redis_listen_with_retries(self):  # upstream's receiving loop, with other waits
        retry_sleep = RETRY_FIRST
        failed = False
        while True:
            try:
                self._redis_connect()
                self.pubsub.subscribe(self.channel)
                if failed:
                    self._get_logger().info("Receiving from redis again")
                    failed = False
                retry_sleep = RETRY_FIRST
                yield from self.pubsub.listen()
            except Exception as exc:  # noqa: BLE001 - whatever redis raises, try again
                self._get_logger().error(f"Cannot receive from redis... retrying in {retry_sleep:g} secs",
                                         extra={"redis_exception": str(exc)})
                failed = True
                time.sleep(retry_sleep)  # monkey-patched: only this green thread waits
                retry_sleep = min(retry_sleep * 2, RETRY_CAP)


def socketio_options(url: str | None, channel: str = "flask-socketio") -> dict[str, Any]:
    """The ``SocketIO`` keyword arguments for the message queue at ``url``:
    our Redis manager for Redis URLs, Flask-SocketIO's choice otherwise.
    Redis channels are not separated by database number: ``channel`` keeps
    two deployments on one Redis apart."""
    if url and url.startswith(("redis://", "rediss://")):
        return {"message_queue": url, "client_manager": PromptRedisManager(url, channel=channel)}
    return {"message_queue": url, "channel": channel}
