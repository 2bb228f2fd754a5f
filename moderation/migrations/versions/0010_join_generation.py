"""dialogues: the join code's generation

A generated join code is no longer stored, not even as a hash: it is
derived from SECRET_KEY, the dialogue and a generation counter that each
new code increments (moderation/join_codes.py). A code issued before the
upgrade keeps its hash and keeps working until the next one.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 06:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('dialogues', schema=None) as batch_op:
        batch_op.add_column(sa.Column('join_generation', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('dialogues', schema=None) as batch_op:
        batch_op.drop_column('join_generation')
