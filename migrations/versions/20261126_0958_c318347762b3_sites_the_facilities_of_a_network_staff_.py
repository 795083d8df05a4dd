"""sites: the facilities of a network; staff and episodes belong to one

An episode's moves between sites are kept in episode_site_changes. Both columns are nullable and start empty: an install without sites keeps working as a
single facility (every site rule lets everything through until an administrator adds sites).

Revision ID: c318347762b3
Revises: d9acf3955707
Create Date: 2026-11-26 09:58:46.837812

"""

import sqlalchemy as sa
from alembic import op

import casemgr.orm  # noqa: F401  (autogenerate renders casemgr.orm.UTCDateTime)

# revision identifiers, used by Alembic.
revision = "c318347762b3"
down_revision = "d9acf3955707"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", casemgr.orm.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", casemgr.orm.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
        sa.UniqueConstraint("code", name=op.f("uq_sites_code")),
        sa.UniqueConstraint("name", name=op.f("uq_sites_name")),
    )
    with op.batch_alter_table("episodes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("site_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_episodes_site_phase", ["site_id", "phase"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_episodes_site_id_sites"), "sites", ["site_id"], ["id"]
        )

    op.create_table(
        "episode_site_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("episode_id", sa.Integer(), nullable=False),
        sa.Column("from_site_id", sa.Integer(), nullable=True),
        sa.Column("to_site_id", sa.Integer(), nullable=False),
        sa.Column("at", casemgr.orm.UTCDateTime(timezone=True), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["by_id"], ["users.id"], name=op.f("fk_episode_site_changes_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["episode_id"],
            ["episodes.id"],
            name=op.f("fk_episode_site_changes_episode_id_episodes"),
        ),
        sa.ForeignKeyConstraint(
            ["from_site_id"],
            ["sites.id"],
            name=op.f("fk_episode_site_changes_from_site_id_sites"),
        ),
        sa.ForeignKeyConstraint(
            ["to_site_id"], ["sites.id"], name=op.f("fk_episode_site_changes_to_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_episode_site_changes")),
    )
    with op.batch_alter_table("episode_site_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_episode_site_changes_episode_id"), ["episode_id"], unique=False
        )

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("site_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_users_site_id"), ["site_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_users_site_id_sites"), "sites", ["site_id"], ["id"]
        )


def downgrade():
    with op.batch_alter_table("episode_site_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_episode_site_changes_episode_id"))
    op.drop_table("episode_site_changes")

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_users_site_id_sites"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_users_site_id"))
        batch_op.drop_column("site_id")

    with op.batch_alter_table("episodes", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_episodes_site_id_sites"), type_="foreignkey")
        batch_op.drop_index("ix_episodes_site_phase")
        batch_op.drop_column("site_id")

    op.drop_table("sites")
