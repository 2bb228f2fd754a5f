"""The ``moderation`` command: database, accounts, demo, server. Every write
goes through the same commands as the pages and the API."""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

import click

from moderation.core.auth import SYSTEM
from moderation.core.errors import CommandError


def _app(**config):
    from moderation import create_app
    return create_app({"ASYNC_MODE": "threading", **config})


def _dispatch(app, name: str, payload: dict) -> dict:
    try:
        return app.extensions["moderation"].dispatch(SYSTEM, name, payload).result
    except CommandError as exc:
        detail = "".join(f"\n  {d.get('field')}: {d.get('message')}" for d in exc.details or [])
        raise click.ClickException(f"{exc.message}{detail}") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main():
    """Realtime moderation and input collection for live hybrid sessions.

    Settings come from MODERATION_* environment variables (see the README)."""


@main.group()
def db():
    """The database schema."""


@db.command("upgrade")
def db_upgrade():
    """Create or upgrade the schema to the current version."""
    app = _app()
    database = app.extensions["db"]
    database.upgrade()
    click.echo(f"Database at revision {database.current_revision()}.")


@db.command("current")
def db_current():
    """Show the schema revision and whether it is current."""
    database = _app().extensions["db"]
    current, head = database.current_revision(), database.head_revision()
    click.echo(f"database: {current or '(empty)'}; code: {head}; {'current' if current == head else 'BEHIND'}")
    if current != head:
        sys.exit(1)


def _require_schema(app) -> None:
    from moderation.core.db import SchemaBehind
    try:
        app.extensions["db"].require_current()
    except SchemaBehind as exc:
        raise click.ClickException(str(exc)) from None


@main.command("create-admin")
@click.argument("username")
@click.option("--password", help="Default: prompt (or generate with --generate).")
@click.option("--generate", is_flag=True, help="Generate a password and print it.")
@click.option("--display-name", default="")
def create_admin(username: str, password: str | None, generate: bool, display_name: str):
    """Create a secretariat (admin) account."""
    app = _app()
    _require_schema(app)
    if generate:
        password = secrets.token_urlsafe(12)
    elif password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    _dispatch(app, "user.create", {"username": username, "password": password, "is_admin": True,
                                   "display_name": display_name})
    click.echo(f"Created secretariat account {username!r}." + (f" Password: {password}" if generate else ""))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the links as a JSON object keyed by role.")
@click.option("--base-url", default=None, help="Base of the printed links (default: PUBLIC_URL or "
                                                "http://127.0.0.1:5000).")
def demo(as_json: bool, base_url: str | None):
    """Seed the demo dialogue into the configured database and print its links."""
    from moderation.demo import seed_demo
    from moderation.server import print_demo
    app = _app(AUTO_UPGRADE=True)
    base = base_url or app.config.get("PUBLIC_URL") or "http://127.0.0.1:5000"
    result = seed_demo(app, base)
    if as_json:
        click.echo(json.dumps({**result["links"], "dialogue_id": result["dialogue_id"],
                               "join_code": result["join_code"], "admin": result["admin"]}, indent=2))
    else:
        print_demo(result)


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--host", default=None)
@click.option("--port", type=int, default=None)
@click.option("--demo", "with_demo", is_flag=True)
@click.pass_context
def run(ctx, host, port, with_demo):
    """Start the server (``python -m moderation.server``, which patches the async library first)."""
    # A new interpreter: this one has imported the application already.
    args = [sys.executable, "-m", "moderation.server"]
    if host:
        args += ["--host", host]
    if port:
        args += ["--port", str(port)]
    if with_demo:
        args.append("--demo")
    args += ctx.args
    if os.name == "posix":
        os.execv(sys.executable, args)
    sys.exit(subprocess.call(args))


@main.command()
@click.option("--dialogue", "dialogue_id", type=int, default=None,
              help="The dialogue the token is for. Without it: a secretariat token for the whole site.")
@click.option("--role", type=click.Choice(["secretariat", "moderator", "rapporteur", "display"]),
              required=True)
@click.option("--label", default="")
def token(dialogue_id: int | None, role: str, label: str):
    """Issue an API bearer token for one dialogue and role, or (secretariat,
    without --dialogue) for the whole site: it creates dialogues and works
    in every one."""
    app = _app()
    _require_schema(app)
    if dialogue_id is None:
        if role != "secretariat":
            raise click.UsageError("Only a secretariat token can be for the whole site: give --dialogue.")
        result = _dispatch(app, "access.issue_site_api_token", {"label": label})
    else:
        result = _dispatch(app, "access.issue_api_token", {"dialogue_id": dialogue_id, "role": role,
                                                            "label": label})
    click.echo(result["token"])


@main.command("export")
@click.option("--dialogue", "dialogue_id", type=int, required=True)
@click.option("--format", "format_name", default="docx", show_default=True,
              help="docx, md, html, json, inputs_csv, inputs_xlsx, interventions_csv, or a plugin's format")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), required=True,
              help="File to write ('-' for standard output).")
def export(dialogue_id: int, format_name: str, output: str):
    """Export a dialogue's draft summary."""
    app = _app()
    _require_schema(app)
    try:
        _exporter, data, _name = app.extensions["moderation"].export(SYSTEM, dialogue_id, format_name)
    except CommandError as exc:
        formats = (exc.details or {}).get("formats") if isinstance(exc.details, dict) else None
        raise click.ClickException(exc.message + (f" Formats: {', '.join(formats)}." if formats else "")) from None
    if output == "-":
        click.echo(data, nl=False)  # bytes go to the binary stdout
    else:
        with open(output, "wb") as handle:
            handle.write(data)
        click.echo(f"Wrote {output} ({len(data):,} bytes).", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()
