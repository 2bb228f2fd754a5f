"""dialogues: a digest of each section's last value

A change carries every section that reads a table the command wrote and
whose value differs from the last one built: the dialogue keeps a short
digest per section (and role) to tell. An empty object means "unknown":
the first change after the upgrade sends every such section once.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 21:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('dialogues', schema=None) as batch_op:
        batch_op.add_column(sa.Column('section_digests', sa.JSON(), nullable=False, server_default='{}'))


def downgrade() -> None:
    with op.batch_alter_table('dialogues', schema=None) as batch_op:
        batch_op.drop_column('section_digests')
