"""phase_changes index by episode and effective time

The census finds each episode's phase on a day as its latest move effective by then; with
only (episode_id) indexed, every episode needed a sort. The new index starts with episode_id,
so it also serves the foreign key and replaces the single-column index.

Revision ID: d6b0dea1d2ac
Revises: 2f7fe5c3fed5
Create Date: 2026-11-26 07:41:11.028233

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "d6b0dea1d2ac"
down_revision = "2f7fe5c3fed5"
branch_labels = None
depends_on = None


def upgrade():
    # Plain index operations: no table copy on SQLite. The new index first, so episode_id is
    # never unindexed.
    op.create_index(
        "ix_phase_changes_episode_effective",
        "phase_changes",
        ["episode_id", "effective_at", "id"],
        unique=False,
    )
    op.drop_index(op.f("ix_phase_changes_episode_id"), table_name="phase_changes")


def downgrade():
    op.create_index(
        op.f("ix_phase_changes_episode_id"), "phase_changes", ["episode_id"], unique=False
    )
    op.drop_index("ix_phase_changes_episode_effective", table_name="phase_changes")
