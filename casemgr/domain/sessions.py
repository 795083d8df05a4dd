"""Clinical sessions: types, settings, attendance and duration."""

from __future__ import annotations

from datetime import date, datetime, time

Codes = tuple[tuple[str, str], ...]

SESSION_TYPES: Codes = (
    ("individual", "Individual counseling"),
    ("group", "Group"),
    ("family", "Family session"),
    ("psychoeducation", "Psychoeducation"),
    ("relapse_prevention", "Relapse prevention"),
    ("alternative", "Alternative therapy"),
    ("case_management", "Case management"),
    ("nursing", "Nursing"),
    ("medical", "Medical"),
)

ALTERNATIVE_KINDS: Codes = (
    ("art", "Art"),
    ("music", "Music"),
    ("yoga", "Yoga"),
    ("mindfulness", "Mindfulness"),
    ("other", "Other"),
)

SETTINGS: Codes = (("on_site", "On site"), ("telehealth", "Telehealth"))

ATTENDANCE: Codes = (
    ("attended", "Attended"),
    ("late", "Late"),
    ("left_early", "Left early"),
    ("no_show", "No-show"),
    ("cancelled_client", "Cancelled by client"),
    ("cancelled_facility", "Cancelled by facility"),
)

# Attendance states in which the client was there, so minutes and a clinical note apply.
PRESENT = frozenset({"attended", "late", "left_early"})

# Which note formats suit which sessions (a nurse writes nursing notes, etc.).
COUNSELING_TYPES = frozenset(
    {"individual", "family", "psychoeducation", "relapse_prevention", "alternative"}
)

USE_SINCE_LAST: Codes = (
    ("none", "No use reported"),
    ("lapse", "Lapse / some use"),
    ("relapse", "Relapse"),
    ("unknown", "Unknown"),
)
ADHERENCE: Codes = (
    ("na", "Not on medication"),
    ("adherent", "Adherent"),
    ("partial", "Partly adherent"),
    ("not_adherent", "Not adherent"),
)
SAFETY_RISK: Codes = (
    ("none", "None identified"),
    ("low", "Low"),
    ("moderate", "Moderate"),
    ("high", "High"),
)


def duration_minutes(start: time, end: time) -> int:
    """Whole minutes between start and end on the same day; end must be after start."""
    day = date(2000, 1, 1)
    minutes = int((datetime.combine(day, end) - datetime.combine(day, start)).total_seconds() // 60)
    if minutes <= 0:
        raise ValueError("The end time must be after the start time.")
    return minutes
