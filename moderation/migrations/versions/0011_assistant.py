"""input_vectors and dismissed_pairs: the rapporteur's assistant

Each input's vector from a similarity backend, computed once off the live
path and stored (derived data), and the pairs of inputs the staff said are
not duplicates.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 23:20:00
"""
from alembic import op
import sqlalchemy as sa

import moderation.models


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'input_vectors',
        sa.Column('input_id', sa.Integer(), nullable=False),
        sa.Column('backend', sa.String(length=40), nullable=False),
        sa.Column('dialogue_id', sa.Integer(), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('dimensions', sa.Integer(), nullable=False),
        sa.Column('vector', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', moderation.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['dialogue_id'], ['dialogues.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['input_id'], ['inputs.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('input_id', 'backend'),
    )
    with op.batch_alter_table('input_vectors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_input_vectors_dialogue_id'), ['dialogue_id'], unique=False)
    op.create_table(
        'dismissed_pairs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dialogue_id', sa.Integer(), nullable=False),
        sa.Column('first_id', sa.Integer(), nullable=False),
        sa.Column('second_id', sa.Integer(), nullable=False),
        sa.Column('dismissed_by', sa.String(length=200), nullable=False),
        sa.Column('created_at', moderation.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['dialogue_id'], ['dialogues.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['first_id'], ['inputs.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['second_id'], ['inputs.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('first_id', 'second_id', name=op.f('uq_dismissed_pairs_first_id')),
    )
    with op.batch_alter_table('dismissed_pairs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dismissed_pairs_dialogue_id'), ['dialogue_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dismissed_pairs_first_id'), ['first_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dismissed_pairs_second_id'), ['second_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('dismissed_pairs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dismissed_pairs_second_id'))
        batch_op.drop_index(batch_op.f('ix_dismissed_pairs_first_id'))
        batch_op.drop_index(batch_op.f('ix_dismissed_pairs_dialogue_id'))
    op.drop_table('dismissed_pairs')
    with op.batch_alter_table('input_vectors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_input_vectors_dialogue_id'))
    op.drop_table('input_vectors')
