"""The access feature's reads: the current join code, for the room's display
and the staff (never participants, never over Socket.IO)."""
from __future__ import annotations

from typing import Any

from moderation.core.reads import ReadContext, read
from moderation.features.access.join_codes import current_code, current_room_pass
from moderation.models import Dialogue, Role


def joining_of(keys: Any, dialogue: Dialogue) -> dict[str, Any]:
    """Whether joining is on, the code's generation, the code (None for a
    code of the secretariat's own, kept as a hash) and the QR code's value."""
    return {"enabled": dialogue.join_enabled, "generation": dialogue.join_generation or 0,
            "code": current_code(keys, dialogue), "room_pass": current_room_pass(keys, dialogue)}


@read("access.join_code", roles={Role.DISPLAY, Role.SECRETARIAT, Role.MODERATOR},
      refused="This is for the room's display and the staff.")
def join_code(ctx: ReadContext) -> dict[str, Any]:
    return joining_of(ctx.join_keys, ctx.dialogue)
