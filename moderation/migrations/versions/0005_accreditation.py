"""accreditation: applications, nominees, check-in, invitations, deadlines

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 10:43:04.387462
"""
from alembic import op
import sqlalchemy as sa
import moderation.models


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('applications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dialogue_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=True),
    sa.Column('organization_key', sa.String(length=320), nullable=False),
    sa.Column('organization_name', sa.String(length=300), nullable=False),
    sa.Column('category', sa.String(length=30), nullable=False),
    sa.Column('ecosoc_status', sa.Boolean(), nullable=False),
    sa.Column('country', sa.String(length=100), nullable=False),
    sa.Column('website', sa.String(length=300), nullable=False),
    sa.Column('grassroots', sa.Boolean(), nullable=False),
    sa.Column('victim_led', sa.Boolean(), nullable=False),
    sa.Column('expertise', sa.Text(), nullable=False),
    sa.Column('contact_name', sa.String(length=200), nullable=False),
    sa.Column('contact_email', sa.String(length=254), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('decision_reason', sa.String(length=1000), nullable=False),
    sa.Column('decided_by_body', sa.String(length=200), nullable=False),
    sa.Column('decided_by', sa.String(length=200), nullable=False),
    sa.Column('decided_at', moderation.models.UTCDateTime(), nullable=True),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('submitted_at', moderation.models.UTCDateTime(), nullable=False),
    sa.Column('updated_at', moderation.models.UTCDateTime(), nullable=False),
    sa.Column('travel_support', sa.String(length=12), nullable=False),
    sa.Column('travel_request_note', sa.String(length=1000), nullable=False),
    sa.Column('travel_requested_at', moderation.models.UTCDateTime(), nullable=True),
    sa.Column('travel_decision_note', sa.String(length=1000), nullable=False),
    sa.Column('travel_decided_at', moderation.models.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['dialogue_id'], ['dialogues.id'], name=op.f('fk_applications_dialogue_id_dialogues'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_applications_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_applications')),
    sa.UniqueConstraint('dialogue_id', 'organization_key', name=op.f('uq_applications_dialogue_id'))
    )
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_applications_dialogue_id'), ['dialogue_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_applications_status'), ['status'], unique=False)

    op.create_table('nominees',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('mode', sa.String(length=12), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_nominees_application_id_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_nominees_participant_id_participants'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nominees'))
    )
    with op.batch_alter_table('nominees', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_nominees_application_id'), ['application_id'], unique=False)

    with op.batch_alter_table('dialogues', schema=None) as batch_op:
        batch_op.add_column(sa.Column('applications_open', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('application_deadline', moderation.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('application_timezone', sa.String(length=64), nullable=False, server_default='Europe/Vienna'))
        batch_op.add_column(sa.Column('summary_published_at', moderation.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('personal_data_deleted_at', moderation.models.UTCDateTime(), nullable=True))

    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('application_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('alternate', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('checked_in_at', moderation.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('checked_in_by', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('connected_at', moderation.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('invited_at', moderation.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('invitation_delivery', sa.String(length=10), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('invitation_delivered_at', moderation.models.UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_participants_application_id'), ['application_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_participants_application_id_applications'), 'applications', ['application_id'], ['id'], ondelete='SET NULL')



def downgrade() -> None:
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_participants_application_id_applications'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_participants_application_id'))
        batch_op.drop_column('invitation_delivered_at')
        batch_op.drop_column('invitation_delivery')
        batch_op.drop_column('invited_at')
        batch_op.drop_column('connected_at')
        batch_op.drop_column('checked_in_by')
        batch_op.drop_column('checked_in_at')
        batch_op.drop_column('alternate')
        batch_op.drop_column('application_id')

    with op.batch_alter_table('dialogues', schema=None) as batch_op:
        batch_op.drop_column('personal_data_deleted_at')
        batch_op.drop_column('summary_published_at')
        batch_op.drop_column('application_timezone')
        batch_op.drop_column('application_deadline')
        batch_op.drop_column('applications_open')

    with op.batch_alter_table('nominees', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_nominees_application_id'))

    op.drop_table('nominees')
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_applications_status'))
        batch_op.drop_index(batch_op.f('ix_applications_dialogue_id'))

    op.drop_table('applications')
