"""The detox protocol is configurable: intervals, CIWA-Ar bands and vital alert thresholds
come from app config, and a bad protocol stops the app at start-up."""

from datetime import timedelta

import pytest
import time_machine

from casemgr.detox import services
from casemgr.domain.errors import DomainError
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.extensions import db
from tests.clients_helpers import NOW, admitted
from tests.detox.helpers import assessed
from tests.factories import Factories


@pytest.fixture
def ward_app(app_factory):
    def build(**config):
        app = app_factory(**config)
        ctx = app.app_context()
        ctx.push()
        make = Factories()
        manager, counselor = make.user(Role.CLINIC_MANAGER), make.user(Role.COUNSELOR)
        _, episode = admitted(manager, counselor, Phase.DETOX)
        return app, ctx, episode, make.user(Role.NURSE)

    return build


def test_intervals_follow_the_configuration(ward_app):
    app, ctx, episode, nurse = ward_app(DETOX_INTERVAL_HOURS=2)
    try:
        with time_machine.travel(NOW, tick=False):
            assessed(episode, nurse, at=NOW)
            due = services.summary(db.session, episode, NOW)["due"]
        assert due.due_at == NOW + timedelta(hours=2)
    finally:
        ctx.pop()


def test_ciwa_bands_and_vital_alerts_follow_the_configuration(ward_app):
    app, ctx, episode, nurse = ward_app(CIWA_AR_BANDS=[5, 8], VITAL_ALERTS={"heart_rate_high": 80})
    try:
        with time_machine.travel(NOW, tick=False):
            done = assessed(episode, nurse, instrument="ciwa_ar", heart_rate=90)  # total 9
        assert done.band == "severe"  # 9 > 8: severe by this facility's table (default: moderate)
        assert "heart_rate" in services.row(done).alert_fields  # 90 > 80 (default limit: 110)
    finally:
        ctx.pop()


@pytest.mark.parametrize(
    "config",
    [
        {"DETOX_INTERVAL_HOURS": 0},
        {"DETOX_CLOSE_INTERVAL_HOURS": 6},  # longer than the routine interval
        {"CIWA_AR_BANDS": [15, 8]},
        {"VITAL_ALERTS": {"heart_rate_low": 120}},
    ],
)
def test_a_bad_protocol_stops_the_app_at_start_up(app_factory, config):
    with pytest.raises(DomainError):
        app_factory(**config)
