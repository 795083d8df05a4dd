"""site month flow indexes

A site's clinic manager sees her site's month flow: admissions and discharges dated this
month at her site. With only (admitted_on) and (discharged_on) indexed, each count read the
whole network's month and filtered it by site (3.3 ms at 50 sites and 50,000 clients on
SQLite); by (site_id, date) it reads the site's rows only (1.4 ms).

Revision ID: 5a050c64408f
Revises: c318347762b3
Create Date: 2026-11-26 14:20:55.953283

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "5a050c64408f"
down_revision = "c318347762b3"
branch_labels = None
depends_on = None

# Plain index operations: no table copy on SQLite.
INDEXES = [
    ("ix_episodes_site_admitted_on", ["site_id", "admitted_on"]),
    ("ix_episodes_site_discharged_on", ["site_id", "discharged_on"]),
]


def upgrade():
    for name, columns in INDEXES:
        op.create_index(name, "episodes", columns)


def downgrade():
    for name, _ in reversed(INDEXES):
        op.drop_index(name, table_name="episodes")
