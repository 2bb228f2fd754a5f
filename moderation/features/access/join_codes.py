"""The join code and the room's QR value: derived, never stored.

A dialogue's join code is computed from the application's ``SECRET_KEY``,
the dialogue's id and its ``join_generation`` (HMAC-SHA256, read as 8
characters of an alphabet without look-alikes). Nothing secret is kept in
the database, yet the secretariat's page and the display can show the
current code at any time: they recompute it. Issuing a new code
(``dialogue.configure_join``) increments the generation, which revokes the
old code and every QR value signed for it.

The display's QR code carries ``/d/<id>/join?t=<value>``: the dialogue id
and generation signed with itsdangerous (HMAC keyed with ``SECRET_KEY``,
with a salt of its own, so no other signed value of the application is
accepted here). It proves the right to join as the code does; it is no
staff token and opens nothing else.

A code chosen by the secretariat (``code`` in ``dialogue.configure_join``)
cannot be recomputed: it is kept as a SHA-256 hash, as before, and shown
only in the answer that sets it.
"""
from __future__ import annotations

import hashlib
import hmac
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from moderation.core.auth import hash_token
from moderation.core.errors import Internal

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read off a projector
LENGTH = 8
SALT = "moderation.room-join"


class JoinKeys:
    """Derives join codes and signs (and reads) the room's QR values."""

    def __init__(self, secret_key: str | bytes):
        key = secret_key.encode() if isinstance(secret_key, str) else bytes(secret_key)
        # A key of its own for the codes, so that a code says nothing about the cookie's key.
        self._code_key = hmac.new(key, b"moderation.join-code", hashlib.sha256).digest()
        self._serializer = URLSafeSerializer(key, salt=SALT)

    def code(self, dialogue_id: int, generation: int) -> str:
        mac = hmac.new(self._code_key, f"{dialogue_id}:{generation}".encode(), hashlib.sha256).digest()
        number, chars = int.from_bytes(mac, "big"), []
        for _ in range(LENGTH):
            number, index = divmod(number, len(ALPHABET))
            chars.append(ALPHABET[index])
        return "".join(chars)

    def room_pass(self, dialogue_id: int, generation: int) -> str:
        """The signed value of the display's QR code."""
        return self._serializer.dumps([dialogue_id, generation])

    def read_room_pass(self, value: str) -> tuple[int, int] | None:
        """(dialogue id, generation) of a genuine value, else None."""
        try:
            data = self._serializer.loads(value)
        except (BadSignature, ValueError, TypeError):
            return None
        if (isinstance(data, list) and len(data) == 2
                and all(isinstance(x, int) and not isinstance(x, bool) for x in data)):
            return data[0], data[1]
        return None


def derived(dialogue: Any) -> bool:
    """The dialogue's current code is recomputed (not a code the secretariat chose)."""
    return bool(dialogue.join_enabled) and not dialogue.join_code_hash


def current_code(keys: JoinKeys, dialogue: Any) -> str | None:
    """The code to show now, or None (joining is off, or the code was chosen and is kept as a hash)."""
    return keys.code(dialogue.id, dialogue.join_generation) if derived(dialogue) else None


def current_room_pass(keys: JoinKeys, dialogue: Any) -> str | None:
    """The value for the display's QR code now, or None while joining is off."""
    return keys.room_pass(dialogue.id, dialogue.join_generation) if dialogue.join_enabled else None


def code_matches(keys: JoinKeys, dialogue: Any, given: str) -> bool:
    """``given`` (any case, spaces ignored: the display groups the code) is the current code; compared in
    constant time."""
    given = "".join(given.split()).upper()
    if dialogue.join_code_hash:
        return hmac.compare_digest(hash_token(given), dialogue.join_code_hash)
    return hmac.compare_digest(given.encode(), keys.code(dialogue.id, dialogue.join_generation).encode())


def room_pass_matches(keys: JoinKeys, dialogue: Any, value: str) -> bool:
    """``value`` was signed for this dialogue's current generation."""
    return keys.read_room_pass(value) == (dialogue.id, dialogue.join_generation)


def keys_of(ctx: Any) -> JoinKeys:
    """The JoinKeys a command runs with (``Context.join_keys``)."""
    if ctx.join_keys is None:  # the command layer run without the service: a bug, not a user's mistake
        raise Internal("Join codes need the application's secret key.")
    return ctx.join_keys
