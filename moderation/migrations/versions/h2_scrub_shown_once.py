"""secrets out of stored answers: tokens, links and join codes are shown once

Answers kept for idempotency keys before this revision hold the tokens,
links and join codes that their commands showed: they are left out now, as
the command layer leaves them out of every new answer it keeps.

Revision ID: h2_scrub_shown_once
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

from moderation.commands import without_secrets

revision = 'h2_scrub_shown_once'
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
