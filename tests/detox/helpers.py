"""Building detox records for tests, through the services (with an explicit clock)."""

from __future__ import annotations

from datetime import datetime

from casemgr.detox import services
from casemgr.domain.withdrawal import CIWA_AR, COWS
from casemgr.extensions import db
from tests.clients_helpers import NOW

# Totals: COWS 2+2+3+2+1+2+2+1+1+1+3 = 20 (moderate); CIWA-Ar nine 1s and orientation 0 = 9.
COWS_ITEMS = dict(zip(COWS.keys, (2, 2, 3, 2, 1, 2, 2, 1, 1, 1, 3), strict=True))
CIWA_ITEMS = {key: (0 if key == "orientation" else 1) for key in CIWA_AR.keys}


def assessed(episode, nurse, *, instrument="cows", at: datetime = NOW, **vitals):
    items = COWS_ITEMS if instrument == "cows" else CIWA_ITEMS
    entry = services.AssessmentEntry(instrument, dict(items), at, **vitals)
    done = services.record_assessment(db.session, episode, entry, nurse=nurse, now=NOW)
    db.session.commit()
    return done
