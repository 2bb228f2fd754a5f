"""applications: edit tokens instead of one application per organization name

An application is changed with its private edit token (its hash is stored);
the same organization name without it makes a new application, shown to the
secretariat as a possible duplicate. The unique (dialogue, name) constraint
becomes a plain index. Applications stored before have no token: only the
secretariat changes them (deciding), and a new form makes a new application.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('edit_token_hash', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_applications_edit_token_hash'), ['edit_token_hash'], unique=False)
        batch_op.drop_constraint('uq_applications_dialogue_id', type_='unique')
        batch_op.create_index('ix_applications_dialogue_id_organization_key', ['dialogue_id', 'organization_key'],
                              unique=False)


def downgrade() -> None:
    # Fails while two applications to one dialogue share a name: decide which
    # one to keep first.
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_index('ix_applications_dialogue_id_organization_key')
        batch_op.create_unique_constraint('uq_applications_dialogue_id', ['dialogue_id', 'organization_key'])
        batch_op.drop_index(batch_op.f('ix_applications_edit_token_hash'))
        batch_op.drop_column('edit_token_hash')
