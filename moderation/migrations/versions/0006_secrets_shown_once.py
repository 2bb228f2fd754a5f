"""secrets out of stored answers: tokens, links and join codes are shown once

Answers kept for idempotency keys before this revision hold the tokens,
links and join codes that their commands showed: they are left out now, as
the command layer leaves them out of every new answer it keeps.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# The commands of this revision that answered a secret, and its fields.
SECRETS = {
    "access.issue_link": ("token",),
    "access.issue_api_token": ("token",),
    "participant.register": ("token",),
    "participant.join_with_code": ("token",),
    "user.issue_sign_in_link": ("token",),
    "dialogue.configure_join": ("code",),
    "invitations.issue": ("token", "link_path"),
}


SHOWN_ONCE = "secret_shown_once"


def without_secrets(result: dict, fields: tuple[str, ...]) -> dict:
    """``result`` without ``fields`` at any depth, marked ``secret_shown_once``
    when one held a value: the command layer's rule of this revision, frozen
    here so that the migration does not change with the code."""
    removed = False

    def keep(value):
        nonlocal removed
        if isinstance(value, dict):
            kept = {}
            for key, inner in value.items():
                if key in fields:
                    removed = removed or inner is not None
                else:
                    kept[key] = keep(inner)
            return kept
        if isinstance(value, (list, tuple)):
            return [keep(inner) for inner in value]
        return value

    clean = keep(result)
    if removed:
        clean[SHOWN_ONCE] = True
    return clean


def upgrade() -> None:
    records = sa.table("idempotency_records", sa.column("id", sa.Integer), sa.column("command", sa.String),
                       sa.column("response", sa.JSON))
    connection = op.get_bind()
    rows = connection.execute(sa.select(records.c.id, records.c.command, records.c.response)
                              .where(records.c.command.in_(list(SECRETS)))).all()
    for record_id, command, response in rows:
        if not isinstance(response, dict) or not isinstance(response.get("result"), dict):
            continue
        kept = {**response, "result": without_secrets(response["result"], SECRETS[command])}
        if kept != response:
            connection.execute(records.update().where(records.c.id == record_id).values(response=kept))


def downgrade() -> None:
    pass  # the secrets are gone for good: nothing to put back
