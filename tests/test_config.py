"""Settings: defaults, the instance config file, MODERATION_* environment
variables, values given to create_app, what is refused, the instance secret
key, and the Socket.IO origin policy."""
from __future__ import annotations

import os
import stat

import pytest

from moderation import OriginPolicy, create_app
from moderation.core.config import SETTINGS, load_settings

EMPTY: dict[str, str] = {}


def test_defaults(tmp_path):
    settings = load_settings(tmp_path / "instance", environ=EMPTY)
    assert settings["ASYNC_MODE"] == "eventlet"
    assert settings["MESSAGE_QUEUE"] is None
    assert settings["ALLOWED_ORIGINS"] == []
    assert settings["PLUGINS"] is None
    assert settings["MAX_PAYLOAD_BYTES"] == 64_000
    assert settings["SESSION_COOKIE_SECURE"] is False and settings["AUTO_UPGRADE"] is False
    assert settings["LOG_LEVEL"] == "INFO"
    assert settings["DATABASE_URL"] == f"sqlite:///{tmp_path / 'instance' / 'moderation.sqlite3'}"
    assert len(settings["SECRET_KEY"]) == 64
    assert set(settings) >= {s.name for s in SETTINGS}


def test_every_setting_is_documented():
    for setting in SETTINGS:
        assert setting.name.isupper() and len(setting.help.strip()) >= 10, setting.name


def test_environment_variables_override_defaults(tmp_path):
    environ = {
        "MODERATION_DATABASE_URL": "postgresql://db.example/moderation",
        "MODERATION_SECRET_KEY": "from-the-environment",
        "MODERATION_ASYNC_MODE": "gevent",
        "MODERATION_MESSAGE_QUEUE": "redis://127.0.0.1:6379/3",
        "MODERATION_ALLOWED_ORIGINS": "https://a.example, https://b.example/ ,",
        "MODERATION_PLUGINS": "one,two",
        "MODERATION_MAX_PAYLOAD_BYTES": "1234",
        "MODERATION_SESSION_COOKIE_SECURE": "yes",
        "MODERATION_AUTO_UPGRADE": "1",
        "MODERATION_LOG_LEVEL": "DEBUG",
        "MODERATION_PUBLIC_URL": "https://dialogue.example.org",
        "UNRELATED": "x",
    }
    settings = load_settings(tmp_path, environ=environ)
    assert settings["DATABASE_URL"] == "postgresql://db.example/moderation"
    assert settings["SECRET_KEY"] == "from-the-environment"
    assert settings["ASYNC_MODE"] == "gevent"
    assert settings["MESSAGE_QUEUE"] == "redis://127.0.0.1:6379/3"
    assert settings["ALLOWED_ORIGINS"] == ["https://a.example", "https://b.example/"]
    assert settings["PLUGINS"] == ["one", "two"]
    assert settings["MAX_PAYLOAD_BYTES"] == 1234
    assert settings["SESSION_COOKIE_SECURE"] is True and settings["AUTO_UPGRADE"] is True
    assert settings["LOG_LEVEL"] == "DEBUG" and settings["PUBLIC_URL"] == "https://dialogue.example.org"
    assert "UNRELATED" not in settings
    assert not (tmp_path / "secret_key").exists()   # a given key is not replaced by a generated one


@pytest.mark.parametrize("raw, expected", [("0", False), ("false", False), ("no", False), ("off", False),
                                           ("1", True), ("TRUE", True), ("On", True)])
def test_booleans_from_the_environment(tmp_path, raw, expected):
    assert load_settings(tmp_path, environ={"MODERATION_AUTO_UPGRADE": raw})["AUTO_UPGRADE"] is expected


def test_empty_environment_variables_are_ignored(tmp_path):
    settings = load_settings(tmp_path, environ={"MODERATION_ASYNC_MODE": "", "MODERATION_MAX_PAYLOAD_BYTES": ""})
    assert settings["ASYNC_MODE"] == "eventlet" and settings["MAX_PAYLOAD_BYTES"] == 64_000


def test_instance_config_file(tmp_path):
    (tmp_path / "config.py").write_text(
        "ASYNC_MODE = 'threading'\n"
        "MAX_PAYLOAD_BYTES = 2000\n"
        "ALLOWED_ORIGINS = ['https://stream.example']\n"
        "NOT_A_SETTING = 'ignored'\n"
        "import os as _os\n", encoding="utf-8")
    settings = load_settings(tmp_path, environ=EMPTY)
    assert settings["ASYNC_MODE"] == "threading"
    assert settings["MAX_PAYLOAD_BYTES"] == 2000
    assert settings["ALLOWED_ORIGINS"] == ["https://stream.example"]
    assert "NOT_A_SETTING" not in settings and "_os" not in settings
    # The environment wins over the file, and create_app's mapping over both.
    settings = load_settings(tmp_path, {"MAX_PAYLOAD_BYTES": 5}, environ={"MODERATION_ASYNC_MODE": "gevent",
                                                                            "MODERATION_MAX_PAYLOAD_BYTES": "7"})
    assert settings["ASYNC_MODE"] == "gevent" and settings["MAX_PAYLOAD_BYTES"] == 5


def test_config_file_named_by_the_environment(tmp_path):
    elsewhere = tmp_path / "elsewhere.py"
    elsewhere.write_text("LOG_LEVEL = 'WARNING'\n", encoding="utf-8")
    (tmp_path / "config.py").write_text("LOG_LEVEL = 'ERROR'\n", encoding="utf-8")
    assert load_settings(tmp_path, environ={"MODERATION_CONFIG": str(elsewhere)})["LOG_LEVEL"] == "WARNING"
    assert load_settings(tmp_path, environ=EMPTY)["LOG_LEVEL"] == "ERROR"


def test_non_settings_pass_through_from_create_app(tmp_path):
    settings = load_settings(tmp_path, {"TESTING": True, "PLUGIN_OBJECTS": ("x",)}, environ=EMPTY)
    assert settings["TESTING"] is True and settings["PLUGIN_OBJECTS"] == ("x",)


WILDCARDS = [("environment", "*"), ("environment", "https://ok.example,*")] + [
    (source, value) for source in ("file", "mapping")
    for value in ("*", "https://ok.example,*", ["*"], ["https://ok.example", "*"])]


@pytest.mark.parametrize("source, value", WILDCARDS)
def test_a_wildcard_origin_is_refused(tmp_path, source, value):
    if source == "environment":
        call = lambda: load_settings(tmp_path, environ={"MODERATION_ALLOWED_ORIGINS": value})  # noqa: E731
    elif source == "file":
        (tmp_path / "config.py").write_text(f"ALLOWED_ORIGINS = {value!r}\n", encoding="utf-8")
        call = lambda: load_settings(tmp_path, environ=EMPTY)  # noqa: E731
    else:
        call = lambda: load_settings(tmp_path, {"ALLOWED_ORIGINS": value}, environ=EMPTY)  # noqa: E731
    with pytest.raises(ValueError, match=r"\*"):
        call()


@pytest.mark.parametrize("mode", ["asyncio", "Eventlet", "tornado", ""])
def test_a_bad_async_mode_is_refused(tmp_path, mode):
    if mode == "":
        (tmp_path / "config.py").write_text("ASYNC_MODE = ''\n", encoding="utf-8")
        with pytest.raises(ValueError, match="ASYNC_MODE"):
            load_settings(tmp_path, environ=EMPTY)
        return
    with pytest.raises(ValueError, match="ASYNC_MODE"):
        load_settings(tmp_path, environ={"MODERATION_ASYNC_MODE": mode})
    with pytest.raises(ValueError, match="ASYNC_MODE"):
        load_settings(tmp_path, {"ASYNC_MODE": mode}, environ=EMPTY)


def test_the_secret_key_is_generated_once_and_kept(tmp_path):
    instance = tmp_path / "instance"
    first = load_settings(instance, environ=EMPTY)["SECRET_KEY"]
    path = instance / "secret_key"
    assert path.read_text(encoding="utf-8").strip() == first
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600   # nobody else may read it
    assert load_settings(instance, environ=EMPTY)["SECRET_KEY"] == first
    other = load_settings(tmp_path / "other-instance", environ=EMPTY)["SECRET_KEY"]
    assert other != first


def test_create_app_reads_the_environment_and_keeps_its_key(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("MODERATION_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MODERATION_MAX_PAYLOAD_BYTES", "4321")
    monkeypatch.setenv("MODERATION_ASYNC_MODE", "threading")
    instance = tmp_path / "instance"
    apps = [create_app({"INSTANCE_PATH": str(instance), "AUTO_UPGRADE": True}) for _ in range(2)]
    try:
        assert apps[0].config["MAX_PAYLOAD_BYTES"] == 4321 == apps[0].config["MAX_CONTENT_LENGTH"]
        assert apps[0].config["ASYNC_MODE"] == "threading"
        assert apps[0].secret_key == apps[1].secret_key == (instance / "secret_key").read_text().strip()
        assert apps[0].config["DATABASE_URL"] == f"sqlite:///{instance / 'moderation.sqlite3'}"
        assert (instance / "moderation.sqlite3").exists()
        assert apps[0].extensions["socketio"].server.eio.max_http_buffer_size == 4321
    finally:
        for app in apps:
            app.extensions["db"].dispose()


# -- the Socket.IO origin policy ---------------------------------------------------------------
def environ(host: str = "dialogue.example.org", scheme: str = "https", **extra) -> dict:
    return {"HTTP_HOST": host, "wsgi.url_scheme": scheme, **extra}


def test_origin_policy_allows_the_same_origin():
    policy = OriginPolicy([])
    assert policy("https://dialogue.example.org", environ())
    assert policy("http://localhost:5000", environ("localhost:5000", "http"))
    assert not policy("http://dialogue.example.org", environ())            # another scheme
    assert not policy("https://dialogue.example.org:8443", environ())       # another port
    assert not policy("https://evil.example", environ())
    assert not policy("https://dialogue.example.org.evil.example", environ())
    assert not policy(None, environ())
    assert not policy("null", environ())
    assert not policy("https://dialogue.example.org", None)


def test_origin_policy_believes_no_forwarded_header():
    """The host is the request's Host and the scheme the one ProxyFix set
    (from X-Forwarded-Proto behind a trusted proxy only); what a client
    sends itself counts for nothing (over the real server:
    test_socket_doors.py)."""
    forged = environ("dialogue.example.org", "http", HTTP_X_FORWARDED_HOST="evil.example",
                     HTTP_X_FORWARDED_PROTO="https")
    policy = OriginPolicy([])
    assert policy("http://dialogue.example.org", forged)
    assert not policy("https://evil.example", forged)
    assert not policy("http://evil.example", forged)
    assert not policy("https://dialogue.example.org", forged)


def test_origin_policy_allows_configured_origins_only():
    policy = OriginPolicy(["https://stream.example/", "http://localhost:8080"])
    assert policy("https://stream.example", environ())
    assert policy("http://localhost:8080", None)
    assert not policy("https://stream.example.evil", environ())
    assert not policy("https://other.example", environ())
    assert not policy("*", environ())


def test_the_app_uses_the_origin_policy(tmp_path, sqlite_url):
    app = create_app({"DATABASE_URL": sqlite_url, "ASYNC_MODE": "threading", "SECRET_KEY": "k",
                      "INSTANCE_PATH": str(tmp_path / "i"), "AUTO_UPGRADE": True,
                      "ALLOWED_ORIGINS": "https://stream.example"})
    try:
        policy = app.extensions["socketio"].server.eio.cors_allowed_origins
        assert isinstance(policy, OriginPolicy) and policy.extra == {"https://stream.example"}
    finally:
        app.extensions["db"].dispose()
