"""Settings: defaults, an optional instance config file, then ``MODERATION_*``
environment variables, then the mapping given to ``create_app``.

Every setting is listed in ``SETTINGS`` with its type, default and meaning, so
that the README's configuration table and the loader cannot drift apart.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_PREFIX = "MODERATION_"
ASYNC_MODES = ("eventlet", "gevent", "threading")


def _as_list(value: Any) -> list[str] | None:
    if value is None or isinstance(value, list):
        return value
    text = str(value).strip()
    if text in ("", "*"):
        return None if text == "*" else []
    return [part.strip() for part in text.split(",") if part.strip()]


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _as_int(value: Any) -> int:
    return int(value)


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    convert: Callable[[Any], Any]
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("DATABASE_URL", None, str,
            "SQLAlchemy database URL. Default: SQLite file `moderation.sqlite3` in the instance folder."),
    Setting("SECRET_KEY", None, str,
            "Key that signs session cookies. Default: generated once and kept in `instance/secret_key`."),
    Setting("ASYNC_MODE", "eventlet", str,
            "Socket.IO async mode: `eventlet`, `gevent` or `threading`."),
    Setting("MESSAGE_QUEUE", None, str,
            "Socket.IO message queue URL (e.g. `redis://127.0.0.1:6379/0`) for several processes. Default: none."),
    Setting("MESSAGE_QUEUE_CHANNEL", "flask-socketio", str,
            "Redis channel of the message queue, also the prefix of the shared rate-limit counters. Every "
            "process of one deployment uses the same; two deployments sharing a Redis need different ones."),
    Setting("PLUGINS", None, _as_list,
            "Comma-separated allow-list of third-party plugin entry-point names; `*` or unset allows all installed."),
    Setting("ASSIST_BACKEND", None, str,
            "The rapporteur's assistant's similarity backend by name (`minilm`, `tfidf` or a plugin's). "
            "Default: the first available, a plugin's before the built-ins, `minilm` (the `embeddings` "
            "extra) before `tfidf`."),
    Setting("ALLOWED_ORIGINS", [], _as_list,
            "Extra origins allowed to open Socket.IO connections (comma-separated). "
            "Same origin is always allowed; `*` is refused."),
    Setting("PUBLIC_URL", None, str,
            "Base URL used in printed and e-mailed links, e.g. `https://dialogue.example.org`. Default: the request's host."),
    Setting("MAX_PAYLOAD_BYTES", 64_000, _as_int,
            "Largest Socket.IO message accepted, in bytes. An HTTP body may be this plus the largest body its "
            "operation's schema allows (`x-max-body-bytes` in the OpenAPI document)."),
    Setting("INPUT_RATE_BURST", 5, _as_int,
            "How many inputs a participant may send in a quick burst (token bucket size)."),
    Setting("INPUT_RATE_PER_MINUTE", 10, _as_int,
            "How many inputs a participant may send per minute over time (token bucket refill)."),
    Setting("EVENT_RATE_PER_SECOND", 20, _as_int,
            "Socket.IO events one connection may send per second over time."),
    Setting("EVENT_BURST", 60, _as_int,
            "Socket.IO events one connection may send in a quick burst. A command counts as 3 events, "
            "a snapshot or a connection as 10, a page of inputs as 4."),
    Setting("FLOOD_DISCONNECT_AFTER", 200, _as_int,
            "Events refused for flooding after which the connection is closed; its link may then not "
            "connect again for 30 seconds."),
    Setting("SESSION_COOKIE_SECURE", False, _as_bool,
            "Send cookies only over HTTPS. Turn on behind TLS."),
    Setting("SESSION_IDLE_MINUTES", 120, _as_int,
            "A signed-in browser session ends after this many minutes without a request from it (an open "
            "page keeps it alive; a closed or sleeping one does not)."),
    Setting("SESSION_MAX_HOURS", 12, _as_int,
            "A signed-in browser session ends this many hours after sign-in, however active."),
    Setting("SIGN_IN_RATE_BURST", 10, _as_int,
            "Failed sign-ins (password, personal link, join code) allowed in a quick burst per client "
            "address and per account; further attempts get HTTP 429."),
    Setting("SIGN_IN_RATE_PER_MINUTE", 5, _as_int,
            "Failed sign-ins allowed per minute over time, per client address and per account."),
    Setting("APPLY_RATE_BURST", 10, _as_int,
            "Public application forms one client address (or contact e-mail) may submit in a quick burst."),
    Setting("APPLY_RATE_PER_HOUR", 30, _as_int,
            "Public application forms one client address (or contact e-mail) may submit per hour over time."),
    Setting("TRUSTED_PROXY_HOPS", 0, _as_int,
            "Reverse proxies in front of the server whose `X-Forwarded-For`/`-Proto` headers are believed "
            "(1 behind the documented nginx). 0 believes none: the client address is the socket's."),
    Setting("AUTO_UPGRADE", False, _as_bool,
            "Upgrade the database schema at start instead of refusing to start on an old schema."),
    Setting("LOG_LEVEL", "INFO", str, "Python logging level."),
    Setting("SMTP_HOST", None, str,
            "SMTP server that sends invitations, and to an application's contact its private edit link. Default: "
            "none (the secretariat downloads the invitations as files; the edit link is shown once)."),
    Setting("SMTP_PORT", 587, _as_int, "SMTP server port."),
    Setting("SMTP_USER", None, str, "SMTP user name, if the server wants a login."),
    Setting("SMTP_PASSWORD", None, str, "SMTP password."),
    Setting("SMTP_FROM", None, str,
            "Sender of invitations, e.g. `Secretariat <dialogue@example.org>`. Default: `SMTP_USER`."),
    Setting("SMTP_STARTTLS", True, _as_bool, "Switch to TLS with STARTTLS before logging in (port 587)."),
)
SETTING_NAMES = frozenset(s.name for s in SETTINGS)


def load_settings(instance_path: str | os.PathLike, overrides: Mapping[str, Any] | None = None,
                  environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the effective settings, later sources winning over earlier ones."""
    if environ is None:
        environ = os.environ
    instance = Path(instance_path)
    values: dict[str, Any] = {s.name: s.default for s in SETTINGS}

    config_file = environ.get(ENV_PREFIX + "CONFIG") or str(instance / "config.py")
    if os.path.exists(config_file):
        namespace: dict[str, Any] = {}
        with open(config_file, encoding="utf-8") as handle:
            exec(compile(handle.read(), config_file, "exec"), namespace)
        values.update({k: v for k, v in namespace.items() if k in SETTING_NAMES})

    for setting in SETTINGS:
        raw = environ.get(ENV_PREFIX + setting.name)
        if raw is not None and raw != "":
            values[setting.name] = raw
    extra = dict(overrides or {})
    values.update({k: v for k, v in extra.items() if k in SETTING_NAMES})

    for setting in SETTINGS:
        if values[setting.name] is not None:
            values[setting.name] = setting.convert(values[setting.name])

    if values["ASYNC_MODE"] not in ASYNC_MODES:
        raise ValueError(f"MODERATION_ASYNC_MODE must be one of {', '.join(ASYNC_MODES)}")
    if values["ALLOWED_ORIGINS"] is None or "*" in values["ALLOWED_ORIGINS"]:  # also inside a list
        raise ValueError("MODERATION_ALLOWED_ORIGINS='*' is refused: list the origins instead")
    for name in ("SESSION_IDLE_MINUTES", "SESSION_MAX_HOURS"):
        if values[name] < 1:
            raise ValueError(f"MODERATION_{name} must be at least 1")
    if values["TRUSTED_PROXY_HOPS"] < 0:
        raise ValueError("MODERATION_TRUSTED_PROXY_HOPS cannot be negative")
    if not values["DATABASE_URL"]:
        instance.mkdir(parents=True, exist_ok=True)
        values["DATABASE_URL"] = f"sqlite:///{instance / 'moderation.sqlite3'}"
    if not values["SECRET_KEY"]:
        values["SECRET_KEY"] = _instance_secret(instance)
    # Keys that are not settings (TESTING, PLUGIN_OBJECTS, ...) pass through.
    values.update({k: v for k, v in extra.items() if k not in SETTING_NAMES})
    return values


def _instance_secret(instance: Path) -> str:
    """A secret generated on first start and kept, so sessions survive restarts."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key)
    return key
