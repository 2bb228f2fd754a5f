"""speaker queue

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 10:23:43.333655
"""
from alembic import op
import sqlalchemy as sa
import moderation.models


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('speaker_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dialogue_id', sa.Integer(), nullable=False),
    sa.Column('agenda_item_id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('organization', sa.String(length=300), nullable=False),
    sa.Column('organization_key', sa.String(length=320), nullable=False),
    sa.Column('category', sa.String(length=30), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('intervention_type', sa.String(length=20), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('added_by', sa.String(length=12), nullable=False),
    sa.Column('requested_at', moderation.models.UTCDateTime(), nullable=False),
    sa.Column('manual_rank', sa.Float(), nullable=True),
    sa.Column('started_at', moderation.models.UTCDateTime(), nullable=True),
    sa.Column('ended_at', moderation.models.UTCDateTime(), nullable=True),
    sa.Column('run_started_at', moderation.models.UTCDateTime(), nullable=True),
    sa.Column('elapsed_seconds', sa.Float(), nullable=False),
    sa.Column('allotted_seconds', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['agenda_item_id'], ['agenda_items.id'], name=op.f('fk_speaker_entries_agenda_item_id_agenda_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['dialogue_id'], ['dialogues.id'], name=op.f('fk_speaker_entries_dialogue_id_dialogues'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_speaker_entries_participant_id_participants'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_speaker_entries'))
    )
    with op.batch_alter_table('speaker_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_speaker_entries_agenda_item_id'), ['agenda_item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_speaker_entries_dialogue_id'), ['dialogue_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_speaker_entries_participant_id'), ['participant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_speaker_entries_status'), ['status'], unique=False)

    with op.batch_alter_table('agenda_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queue_closed', sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table('dialogues', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queue_policies', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('speaking_seconds', sa.Integer(), nullable=False, server_default='180'))
        batch_op.add_column(sa.Column('speaking_seconds_by_type', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('warning_seconds', sa.Integer(), nullable=False, server_default='30'))
        batch_op.add_column(sa.Column('points_of_order_when_closed', sa.Boolean(), nullable=False, server_default=sa.true()))



def downgrade() -> None:
    with op.batch_alter_table('dialogues', schema=None) as batch_op:
        batch_op.drop_column('points_of_order_when_closed')
        batch_op.drop_column('warning_seconds')
        batch_op.drop_column('speaking_seconds_by_type')
        batch_op.drop_column('speaking_seconds')
        batch_op.drop_column('queue_policies')

    with op.batch_alter_table('agenda_items', schema=None) as batch_op:
        batch_op.drop_column('queue_closed')

    with op.batch_alter_table('speaker_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_speaker_entries_status'))
        batch_op.drop_index(batch_op.f('ix_speaker_entries_participant_id'))
        batch_op.drop_index(batch_op.f('ix_speaker_entries_dialogue_id'))
        batch_op.drop_index(batch_op.f('ix_speaker_entries_agenda_item_id'))

    op.drop_table('speaker_entries')
