"""summary

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 10:32:15.538762
"""
from alembic import op
import sqlalchemy as sa
import moderation.models


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('summary_sections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dialogue_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('updated_by', sa.String(length=200), nullable=False),
    sa.Column('updated_at', moderation.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['dialogue_id'], ['dialogues.id'], name=op.f('fk_summary_sections_dialogue_id_dialogues'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_summary_sections')),
    sa.UniqueConstraint('dialogue_id', 'key', name=op.f('uq_summary_sections_dialogue_id'))
    )
    with op.batch_alter_table('summary_sections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_summary_sections_dialogue_id'), ['dialogue_id'], unique=False)

    with op.batch_alter_table('agenda_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('presenters', sa.Text(), nullable=False, server_default=''))

    with op.batch_alter_table('dialogues', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chairs', sa.String(length=500), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('summary_attribution', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('summary_list_organizations', sa.Boolean(), nullable=False, server_default=sa.false()))



def downgrade() -> None:
    with op.batch_alter_table('dialogues', schema=None) as batch_op:
        batch_op.drop_column('summary_list_organizations')
        batch_op.drop_column('summary_attribution')
        batch_op.drop_column('chairs')

    with op.batch_alter_table('agenda_items', schema=None) as batch_op:
        batch_op.drop_column('presenters')

    with op.batch_alter_table('summary_sections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_summary_sections_dialogue_id'))

    op.drop_table('summary_sections')
