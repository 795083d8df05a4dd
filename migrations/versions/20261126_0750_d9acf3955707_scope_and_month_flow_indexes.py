"""indexes for the clinical chart scopes and the month flow

The nurse/physician chart scope (policy._detox_and_documented) finds the clients a user
documented for by the user columns of phase_changes, level_of_care_spans, drug_screens,
withdrawal_assessments and medication_orders, and the orders still running by
discontinued_at IS NULL; the counselor scope (policy._facilitated_clients) finds a
facilitator's groups by user_id, which the (group_id, user_id) primary key does not lead
with. None of those columns was indexed, so every scoped query scanned the tables whole. The
manager home's month flow counts episodes by admitted_on and discharged_on ranges.

Revision ID: d9acf3955707
Revises: d6b0dea1d2ac
Create Date: 2026-11-26 07:50:32.229465

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "d9acf3955707"
down_revision = "d6b0dea1d2ac"
branch_labels = None
depends_on = None

# (index, table, column); plain index operations: no table copy on SQLite.
INDEXES = [
    ("ix_drug_screens_collector_id", "drug_screens", "collector_id"),
    ("ix_episodes_admitted_on", "episodes", "admitted_on"),
    ("ix_episodes_discharged_on", "episodes", "discharged_on"),
    ("ix_group_facilitators_user_id", "group_facilitators", "user_id"),
    ("ix_level_of_care_spans_by_id", "level_of_care_spans", "by_id"),
    ("ix_medication_orders_discontinued_at", "medication_orders", "discontinued_at"),
    ("ix_medication_orders_ordered_by_id", "medication_orders", "ordered_by_id"),
    ("ix_phase_changes_by_id", "phase_changes", "by_id"),
    ("ix_withdrawal_assessments_nurse_id", "withdrawal_assessments", "nurse_id"),
]


def upgrade():
    for name, table, column in INDEXES:
        op.create_index(op.f(name), table, [column], unique=False)


def downgrade():
    for name, table, _ in reversed(INDEXES):
        op.drop_index(op.f(name), table_name=table)
