"""undo_records: what a disruptive console command took away, for its undo

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 07:00:00
"""
from alembic import op
import sqlalchemy as sa

import moderation.models


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'undo_records',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dialogue_id', sa.Integer(), nullable=False),
        sa.Column('command', sa.String(length=80), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('rows', sa.JSON(), nullable=False),
        sa.Column('created_at', moderation.models.UTCDateTime(), nullable=False),
        sa.Column('expires_at', moderation.models.UTCDateTime(), nullable=False),
        sa.Column('undone_at', moderation.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['dialogue_id'], ['dialogues.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('undo_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_undo_records_dialogue_id'), ['dialogue_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('undo_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_undo_records_dialogue_id'))
    op.drop_table('undo_records')
