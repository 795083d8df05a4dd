"""A small hand-built cohort whose figures are worked out by hand in test_views.py.

The range used is the first half of 2025 (P = 2025-01-01 to 2025-06-30); the clock is frozen
at NOW (2026-11-25), so every 365-day readmission window of P has ended.

    ep  client  counselor  level at admission  history
    E1  Ana     C1         3.5 (then 1)        admitted 01-10, detox 01-12, rehab 01-17,
                                               aftercare 03-17, discharged 05-20 reason 1;
                                               30-day follow-up 04-16 reached, 0 days used;
                                               90-day 06-15 reached, 3 days used;
                                               180-day 09-13 (after P) not yet recorded
    E2  Ben     C2         3.7                 admitted 02-01 (entered 02-02), rehab 02-03,
                                               discharged 02-20 reason 2
    E3  Ben     C1         3.5                 readmitted 2025-08-01 (after P), open
    E4  Cal     C2         3.7                 admitted 2024-12-01, detox 12-02, rehab 12-08,
                                               discharged 2025-03-01 reason 3 (entered 03-04)
    E5  Dee     C1         3.5                 admitted 06-01, detox 06-02,
                                               discharged 06-10 reason 2
    E6  Eve     C1         3.7                 admitted 03-10, rehab 03-11, aftercare 04-10,
                                               open; 30-day follow-up 05-10 not reached;
                                               90-day 07-09 (after P) not yet recorded
"""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest
import time_machine

from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.extensions import db
from tests.clients_helpers import NOW
from tests.outcomes.helpers import client, episode, followup

D = date
DX, RH, AC = Phase.DETOX, Phase.REHAB, Phase.AFTERCARE
P = {"start": "2025-01-01", "end": "2025-06-30"}


@pytest.fixture
def frozen():
    # Frozen before anyone signs in: the session cookie must not be signed in the future.
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def staff(make):
    return SimpleNamespace(
        manager=make.user(Role.CLINIC_MANAGER),
        c1=make.user(Role.COUNSELOR, full_name="Casey Counselor"),
        c2=make.user(Role.COUNSELOR, full_name="Morgan Counselor"),
    )


@pytest.fixture
def cohort(staff):
    m, c1, c2 = staff.manager, staff.c1, staff.c2
    ana, ben, cal, dee, eve = (
        client(m, name) for name in ("Zanaida", "Zbenedikt", "Zcalloway", "Zdeema", "Zevander")
    )
    e1 = episode(
        ana, m, admitted=D(2025, 1, 10), counselor=c1,
        moves=[(DX, D(2025, 1, 12)), (RH, D(2025, 1, 17)), (AC, D(2025, 3, 17))],
        discharged=(D(2025, 5, 20), "1"),
        levels=[("3.5", D(2025, 1, 10)), ("1", D(2025, 3, 17))],
    )  # fmt: skip
    followup(e1, 30, D(2025, 4, 16), reached=True, days_used=0)
    followup(e1, 90, D(2025, 6, 15), reached=True, days_used=3)
    followup(e1, 180, D(2025, 9, 13), reached=None)
    e2 = episode(
        ben, m, admitted=D(2025, 2, 1), admission_recorded=D(2025, 2, 2), counselor=c2,
        moves=[(RH, D(2025, 2, 3))], discharged=(D(2025, 2, 20), "2"),
        levels=[("3.7", D(2025, 2, 1))],
    )  # fmt: skip
    e3 = episode(ben, m, admitted=D(2025, 8, 1), counselor=c1, levels=[("3.5", D(2025, 8, 1))])
    e4 = episode(
        cal, m, admitted=D(2024, 12, 1), counselor=c2,
        moves=[(DX, D(2024, 12, 2)), (RH, D(2024, 12, 8))],
        discharged=(D(2025, 3, 1), "3"), discharge_recorded=D(2025, 3, 4),
        levels=[("3.7", D(2024, 12, 1))],
    )  # fmt: skip
    e5 = episode(
        dee, m, admitted=D(2025, 6, 1), counselor=c1,
        moves=[(DX, D(2025, 6, 2))], discharged=(D(2025, 6, 10), "2"),
        levels=[("3.5", D(2025, 6, 1))],
    )  # fmt: skip
    e6 = episode(
        eve, m, admitted=D(2025, 3, 10), counselor=c1,
        moves=[(RH, D(2025, 3, 11)), (AC, D(2025, 4, 10))],
        levels=[("3.7", D(2025, 3, 10))],
    )  # fmt: skip
    followup(e6, 30, D(2025, 5, 10), reached=False)
    followup(e6, 90, D(2025, 7, 9), reached=None)
    db.session.commit()
    return SimpleNamespace(
        e1=e1, e2=e2, e3=e3, e4=e4, e5=e5, e6=e6, clients=(ana, ben, cal, dee, eve)
    )


@pytest.fixture
def manager(frozen, auth, staff):
    return auth.login(staff.manager)
