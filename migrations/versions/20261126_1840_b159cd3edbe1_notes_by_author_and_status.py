"""notes by author and status

The home pages list a user's own drafts older than a day. With (author_id) alone that read
every note the user ever wrote (a counselor's thousand signed notes for two drafts); and
SQLite's sampled statistics (analysis_limit) rated the two-valued (status) index as
selective as the author's, so it read the whole network's drafts instead (7 ms of the
counselor's home page at 50,000 clients; 0.3 ms by both columns). The new index leads with
author_id, so it still serves the foreign key and replaces the single-column one.

Revision ID: b159cd3edbe1
Revises: 5a050c64408f
Create Date: 2026-11-26 18:40:18.113635

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "b159cd3edbe1"
down_revision = "5a050c64408f"
branch_labels = None
depends_on = None


# Plain index operations: no table copy on SQLite. The new index exists before the old one
# goes, so lookups by author always have one.
def upgrade():
    op.create_index("ix_notes_author_id_status", "notes", ["author_id", "status"])
    op.drop_index("ix_notes_author_id", table_name="notes")


def downgrade():
    op.create_index("ix_notes_author_id", "notes", ["author_id"])
    op.drop_index("ix_notes_author_id_status", table_name="notes")
