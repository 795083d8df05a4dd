"""The facility's detox protocol, from configuration: assessment intervals, CIWA-Ar bands and
vital-sign alert thresholds. The rules themselves live in casemgr.domain; this module only
builds them from app config (validated when the app starts, so a typo fails at boot)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask, current_app

from ..domain import monitoring, vitals
from ..domain.withdrawal import BandTable, ciwa_ar_bands

# Settings (instance/config.py or CASEMGR_* environment; JSON for the structured ones):
#   DETOX_INTERVAL_HOURS = 4           routine re-assessment
#   DETOX_CLOSE_INTERVAL_HOURS = 1     while the last COWS is at or above DETOX_CLOSE_FROM_COWS
#   DETOX_CLOSE_FROM_COWS = 25
#   CIWA_AR_BANDS = [7, 15]            upper bounds of mild and moderate (domain reference §2.2)
#   VITAL_ALERTS = {"heart_rate_high": 110, ...}   any field of casemgr.domain.vitals.Thresholds
DEFAULTS: dict[str, Any] = {
    "DETOX_INTERVAL_HOURS": 4,
    "DETOX_CLOSE_INTERVAL_HOURS": 1,
    "DETOX_CLOSE_FROM_COWS": 25,
    "CIWA_AR_BANDS": None,
    "VITAL_ALERTS": {},
}


def init_app(app: Flask) -> None:
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    with app.app_context():
        intervals(), ciwa_bands(), thresholds()  # refuse to start on a bad protocol


def intervals() -> monitoring.Intervals:
    cfg = current_app.config
    return monitoring.Intervals(
        routine=timedelta(hours=float(cfg["DETOX_INTERVAL_HOURS"])),
        close=timedelta(hours=float(cfg["DETOX_CLOSE_INTERVAL_HOURS"])),
        close_from=int(cfg["DETOX_CLOSE_FROM_COWS"]),
    )


def ciwa_bands() -> BandTable:
    value = current_app.config["CIWA_AR_BANDS"]
    return ciwa_ar_bands(tuple(int(v) for v in value) if value is not None else None)


def thresholds() -> vitals.Thresholds:
    return vitals.Thresholds(**dict(current_app.config["VITAL_ALERTS"]))
