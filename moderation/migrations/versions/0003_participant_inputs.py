"""participant inputs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 10:28:31.845956
"""
from alembic import op
import sqlalchemy as sa
import moderation.models


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('themes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dialogue_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['dialogue_id'], ['dialogues.id'], name=op.f('fk_themes_dialogue_id_dialogues'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_themes')),
    sa.UniqueConstraint('dialogue_id', 'name', name=op.f('uq_themes_dialogue_id'))
    )
    with op.batch_alter_table('themes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_themes_dialogue_id'), ['dialogue_id'], unique=False)

    op.create_table('inputs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dialogue_id', sa.Integer(), nullable=False),
    sa.Column('agenda_item_id', sa.Integer(), nullable=True),
    sa.Column('participant_id', sa.Integer(), nullable=True),
    sa.Column('speaker_entry_id', sa.Integer(), nullable=True),
    sa.Column('author_name', sa.String(length=200), nullable=False),
    sa.Column('organization', sa.String(length=300), nullable=False),
    sa.Column('category', sa.String(length=30), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('named', sa.Boolean(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=12), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('original_text', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('flagged', sa.String(length=300), nullable=False),
    sa.Column('moderation_reason', sa.String(length=300), nullable=False),
    sa.Column('moderated_at', moderation.models.UTCDateTime(), nullable=True),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('endorsement_count', sa.Integer(), nullable=False),
    sa.Column('addressed', sa.Boolean(), nullable=False),
    sa.Column('created_at', moderation.models.UTCDateTime(), nullable=False),
    sa.Column('updated_at', moderation.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['agenda_item_id'], ['agenda_items.id'], name=op.f('fk_inputs_agenda_item_id_agenda_items'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['dialogue_id'], ['dialogues.id'], name=op.f('fk_inputs_dialogue_id_dialogues'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['merged_into_id'], ['inputs.id'], name=op.f('fk_inputs_merged_into_id_inputs')),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_inputs_participant_id_participants'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['speaker_entry_id'], ['speaker_entries.id'], name=op.f('fk_inputs_speaker_entry_id_speaker_entries'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inputs'))
    )
    with op.batch_alter_table('inputs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inputs_agenda_item_id'), ['agenda_item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inputs_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_inputs_dialogue_id'), ['dialogue_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inputs_endorsement_count'), ['endorsement_count'], unique=False)
        batch_op.create_index(batch_op.f('ix_inputs_participant_id'), ['participant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inputs_status'), ['status'], unique=False)

    op.create_table('endorsements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('input_id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('created_at', moderation.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['input_id'], ['inputs.id'], name=op.f('fk_endorsements_input_id_inputs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_endorsements_participant_id_participants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_endorsements')),
    sa.UniqueConstraint('input_id', 'participant_id', name=op.f('uq_endorsements_input_id'))
    )
    with op.batch_alter_table('endorsements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_endorsements_input_id'), ['input_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_endorsements_participant_id'), ['participant_id'], unique=False)

    op.create_table('input_revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('input_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('replaced_by', sa.String(length=20), nullable=False),
    sa.Column('replaced_at', moderation.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['input_id'], ['inputs.id'], name=op.f('fk_input_revisions_input_id_inputs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_input_revisions'))
    )
    with op.batch_alter_table('input_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_input_revisions_input_id'), ['input_id'], unique=False)

    op.create_table('input_themes',
    sa.Column('input_id', sa.Integer(), nullable=False),
    sa.Column('theme_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['input_id'], ['inputs.id'], name=op.f('fk_input_themes_input_id_inputs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['theme_id'], ['themes.id'], name=op.f('fk_input_themes_theme_id_themes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('input_id', 'theme_id', name=op.f('pk_input_themes'))
    )
    with op.batch_alter_table('input_themes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_input_themes_theme_id'), ['theme_id'], unique=False)

    with op.batch_alter_table('dialogues', schema=None) as batch_op:
        batch_op.add_column(sa.Column('moderation_mode', sa.String(length=10), nullable=False, server_default='post'))
        batch_op.add_column(sa.Column('max_input_chars', sa.Integer(), nullable=False, server_default='2000'))
        batch_op.add_column(sa.Column('input_window_opens_at', moderation.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('input_window_closes_at', moderation.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('pinned_input_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('stream_versions', sa.JSON(), nullable=False, server_default='{}'))



def downgrade() -> None:
    with op.batch_alter_table('dialogues', schema=None) as batch_op:
        batch_op.drop_column('stream_versions')
        batch_op.drop_column('pinned_input_id')
        batch_op.drop_column('input_window_closes_at')
        batch_op.drop_column('input_window_opens_at')
        batch_op.drop_column('max_input_chars')
        batch_op.drop_column('moderation_mode')

    with op.batch_alter_table('input_themes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_input_themes_theme_id'))

    op.drop_table('input_themes')
    with op.batch_alter_table('input_revisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_input_revisions_input_id'))

    op.drop_table('input_revisions')
    with op.batch_alter_table('endorsements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_endorsements_participant_id'))
        batch_op.drop_index(batch_op.f('ix_endorsements_input_id'))

    op.drop_table('endorsements')
    with op.batch_alter_table('inputs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inputs_status'))
        batch_op.drop_index(batch_op.f('ix_inputs_participant_id'))
        batch_op.drop_index(batch_op.f('ix_inputs_endorsement_count'))
        batch_op.drop_index(batch_op.f('ix_inputs_dialogue_id'))
        batch_op.drop_index(batch_op.f('ix_inputs_created_at'))
        batch_op.drop_index(batch_op.f('ix_inputs_agenda_item_id'))

    op.drop_table('inputs')
    with op.batch_alter_table('themes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_themes_dialogue_id'))

    op.drop_table('themes')
