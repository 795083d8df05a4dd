"""Coded answers for intake and discharge, following the TEDS admission and discharge sets.

Each list is (code, label); the code is what is stored and exported, the label what staff read.
"""

from __future__ import annotations

Codes = tuple[tuple[str, str], ...]

REFERRAL_SOURCES: Codes = (
    ("self", "Self"),
    ("family", "Family or friend"),
    ("court", "Court / criminal justice"),
    ("employer", "Employer / EAP"),
    ("physician", "Physician"),
    ("hospital", "Hospital / emergency room"),
    ("program", "Another treatment program"),
    ("other", "Other"),
)

FUNDING_KINDS: Codes = (
    ("medicaid", "Medicaid"),
    ("medicare", "Medicare"),
    ("private", "Private insurance"),
    ("employer", "Employer plan"),
    ("grant_state", "State grant"),
    ("grant_local", "Local grant"),
    ("grant_federal", "Federal grant"),
    ("self_pay", "Self-pay"),
)
# Kinds for which the payer and member id are recorded.
FUNDING_WITH_MEMBER_ID = frozenset({"private", "employer", "medicaid", "medicare"})

SUBSTANCES: Codes = (
    ("heroin", "Heroin"),
    ("fentanyl", "Fentanyl (non-prescribed)"),
    ("rx_opioids", "Other opiates / synthetics"),
    ("methadone", "Methadone (non-prescribed)"),
    ("buprenorphine", "Buprenorphine (non-prescribed)"),
    ("alcohol", "Alcohol"),
    ("cocaine", "Cocaine / crack"),
    ("methamphetamine", "Methamphetamine"),
    ("stimulants", "Other stimulants"),
    ("benzodiazepines", "Benzodiazepines"),
    ("marijuana", "Marijuana / hashish"),
    ("other", "Other"),
)

ROUTES: Codes = (
    ("injection", "Injection"),
    ("smoking", "Smoking"),
    ("inhalation", "Inhalation / snorting"),
    ("oral", "Oral"),
    ("other", "Other"),
)

# TEDS frequency of use in the past 30 days.
FREQUENCIES: Codes = (
    ("1", "No use in the past month"),
    ("2", "1–3 times in the past month"),
    ("3", "1–2 times per week"),
    ("4", "3–6 times per week"),
    ("5", "Daily"),
)

SEXES: Codes = (
    ("female", "Female"),
    ("male", "Male"),
    ("intersex", "Intersex"),
    ("unknown", "Not recorded"),
)

PREGNANCY: Codes = (("no", "No"), ("yes", "Yes"), ("unknown", "Unknown / not applicable"))

RISK_FLAGS: Codes = (
    ("suicide", "Suicide risk"),
    ("violence", "Violence risk"),
    ("iv_use", "Injection drug use"),
    ("recent_overdose", "Overdose in the past 12 months"),
    ("medical", "Medically unstable"),
    ("seizure", "Seizure history"),
    ("falls", "Fall risk"),
    ("elopement", "Elopement risk"),
)

# TEDS discharge REASON.
DISCHARGE_REASONS: Codes = (
    ("1", "Treatment completed"),
    ("2", "Left against professional advice / dropped out"),
    ("3", "Terminated by facility"),
    ("4", "Transferred to another program or facility"),
    ("5", "Incarcerated"),
    ("6", "Death"),
    ("7", "Other"),
)
LEFT_AGAINST_ADVICE = "2"

EMPLOYMENT: Codes = (
    ("full_time", "Employed full time"),
    ("part_time", "Employed part time"),
    ("unemployed", "Unemployed (looking for work)"),
    ("not_in_labor_force", "Not in the labor force"),
    ("unknown", "Unknown"),
)

LIVING_ARRANGEMENTS: Codes = (
    ("homeless", "Homeless"),
    ("dependent", "Dependent living (supervised, halfway house, with parents)"),
    ("independent", "Independent living"),
    ("unknown", "Unknown"),
)

# TEDS frequency of self-help (e.g. NA/AA) attendance in the past 30 days.
SELF_HELP: Codes = (
    ("1", "No attendance"),
    ("2", "1–3 times"),
    ("3", "4–7 times"),
    ("4", "8–15 times"),
    ("5", "16–30 times"),
    ("6", "Some attendance, frequency unknown"),
)


def label(codes: Codes, code: str | None) -> str:
    return dict(codes).get(code or "", code or "")


def codes_of(codes: Codes) -> frozenset[str]:
    return frozenset(c for c, _ in codes)
