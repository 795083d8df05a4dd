"""Two printed documents: a consent for signature (§2.31) and the accounting of disclosures
for the client (§2.25). Both are recorded prints (kinds "consent" and "accounting").

A renderer reads only its print record. A consent prints from the snapshot of its elements
kept in the record's parameters (so a later revocation does not change what was printed, and
a form printed before it was recorded prints the same way); the accounting lists disclosures
from the start of its period, kept in the parameters, to the moment it was generated.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from reportlab.platypus import Flowable, ListFlowable, ListItem, PageBreak
from sqlalchemy.orm import Session, joinedload

from ..admin import settings
from ..admin.models import Setting
from ..auth.models import User
from ..clients.models import Client
from ..domain import consent as rules
from ..printing import pdf, record
from ..printing.models import PrintedReport
from ..timefmt import facility_tz
from .models import Consent, Disclosure

CONSENT, ACCOUNTING = "consent", "accounting"
LINE = "_" * 46

NOT_CONDITIONED = (
    "The program will not make my treatment, payment, enrollment or eligibility for benefits "
    "depend on whether I sign this consent."
)
TPO_REDISCLOSURE = (
    "Records disclosed under this consent to a HIPAA covered entity or business associate may "
    "be further disclosed by them as the HIPAA rules permit, except for uses and disclosures "
    "for civil, criminal, administrative or legislative proceedings against me."
)
KIND_STATEMENTS = {
    rules.COUNSELING_NOTES: (
        "This consent covers SUD counseling notes only. It cannot be combined with a consent "
        "for any other information."
    ),
    rules.LEGAL_PROCEEDINGS: (
        "This consent covers use of my records in civil, criminal, administrative or "
        "legislative proceedings against me, and nothing else. It cannot be combined with any "
        "other consent."
    ),
}


# ---------------------------------------------------------------------------------------------
# What a consent print records


def snapshot(consent: Consent) -> dict[str, Any]:
    """A recorded consent's elements, signature and state, as its print shows them."""
    return {
        **_elements(
            kind=consent.kind,
            discloser=consent.discloser,
            information=_ordered(rules.parse_information(consent.information)),
            information_detail=consent.information_detail,
            recipient=rules.recipient_text(
                consent.recipient_kind, consent.recipient_name, consent.recipient_organisation
            ),
            recipient_kind=consent.recipient_kind,
            purpose=consent.purpose,
            expiry_kind=consent.expiry_kind,
            expires_on=consent.expires_on,
            expiry_event=consent.expiry_event,
            revocation_statement=consent.revocation_statement,
            signed_by=consent.signed_by,
            representative_name=consent.representative_name,
            representative_authority=consent.representative_authority,
        ),
        "consent_id": consent.id,
        "signature_method": consent.signature_method,
        "signed_on": consent.signed_on,
        "recorded_by": consent.recorded_by.display_name,
        "scan_sha256": consent.scan_sha256,
        "revoked_on": consent.revoked_on,
    }


def blank(terms: rules.Terms) -> dict[str, Any]:
    """A consent not yet recorded, printed for signature on paper."""
    return {
        **_elements(
            kind=terms.kind,
            discloser=terms.discloser,
            information=_ordered(terms.information),
            information_detail=terms.information_detail,
            recipient=terms.recipient,
            recipient_kind=terms.recipient_kind,
            purpose=terms.purpose,
            expiry_kind=terms.expiry_kind,
            expires_on=terms.expires_on,
            expiry_event=terms.expiry_event,
            revocation_statement=terms.revocation_statement,
            signed_by=terms.signed_by,
            representative_name=terms.representative_name,
            representative_authority=terms.representative_authority,
        ),
        "consent_id": None,
    }


def _ordered(codes) -> list[str]:
    return rules.join_information(codes).split(",") if codes else []


def _elements(**values: Any) -> dict[str, Any]:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in values.items()}


# ---------------------------------------------------------------------------------------------
# Rendering


def render_consent(session: Session, row: PrintedReport) -> tuple[bytes, int]:
    p = record_parameters(row)
    client = session.get(Client, row.client_id)
    assert client is not None
    story = [
        pdf.para("Consent to disclose substance use disorder records", "title"),
        pdf.para("Federal confidentiality rules, 42 CFR Part 2 (§2.31)", "muted"),
        pdf.gap(6),
        pdf.facts(_identity(session, client, row)),
        *_consent_body(p),
        *_signature(p, client),
    ]
    return pdf.render(story, _meta(session, row, client, "Consent for disclosure"))


def _consent_body(p: dict[str, Any]) -> list[Flowable]:
    info = [rules.information_label(code) for code in p["information"]]
    if p["information_detail"]:
        info.append(p["information_detail"])
    out = [
        pdf.heading("1. Who may disclose my records"),
        pdf.para(p["discloser"]),
        pdf.heading("2. What information"),
        ListFlowable(
            [ListItem(pdf.para(item), leftIndent=12) for item in info],
            bulletType="bullet",
            start="•",
            bulletFontName=pdf.FONT,
            leftIndent=12,
        ),
        pdf.heading("3. To whom"),
        pdf.para(p["recipient"]),
        pdf.heading("4. For what purpose"),
        pdf.para(p["purpose"]),
        pdf.heading("5. When this consent expires"),
        pdf.para(_expiry(p)),
        pdf.heading("6. My right to revoke this consent"),
        pdf.para(p["revocation_statement"]),
        pdf.heading("7. Other things I understand"),
    ]
    statements = [KIND_STATEMENTS[p["kind"]]] if p["kind"] in KIND_STATEMENTS else []
    if p["recipient_kind"] == rules.TPO:
        statements.append(TPO_REDISCLOSURE)
    statements.append(NOT_CONDITIONED)
    out += [pdf.para(s) for s in statements]
    return out


def _expiry(p: dict[str, Any]) -> str:
    if p["expiry_kind"] == rules.BY_DATE:
        return f"This consent expires on {p['expires_on']}."
    if p["expiry_kind"] == rules.BY_EVENT:
        return f"This consent expires on this event: {p['expiry_event']}."
    return "This consent does not expire: it stays in force until I revoke it in writing."


def _signature(p: dict[str, Any], client: Client) -> list[Flowable]:
    representative = p["signed_by"] == rules.REPRESENTATIVE
    who = "authorised representative" if representative else "client"
    name = p["representative_name"] if representative else _client_name(client)
    rows = [
        (f"Signature of the {who}", LINE),
        ("Printed name", name),
    ]
    if representative:
        rows.append(("Authority to sign", p["representative_authority"]))
    rows.append(("Date signed", p.get("signed_on") or LINE[:22]))
    out: list[Flowable] = [pdf.keep(pdf.heading("8. Signature"), pdf.facts(rows))]
    if p["consent_id"] is not None:
        out += [pdf.keep(pdf.heading("As recorded by the program", 3), pdf.facts(_recorded(p)))]
    return out


def _recorded(p: dict[str, Any]) -> list[tuple[str, str]]:
    method = (
        "On paper; the signed form is scanned and kept"
        if p["signature_method"] == rules.PAPER
        else "In the app"
    )
    rows = [
        ("Consent number", str(p["consent_id"])),
        ("Signed", f"{method}, on {p['signed_on']}"),
        ("Recorded by", p["recorded_by"]),
    ]
    if p["scan_sha256"]:
        rows.append(("Scan fingerprint (SHA-256)", p["scan_sha256"]))
    if p["revoked_on"]:
        rows.append(("Revoked", f"Revoked in writing on {p['revoked_on']}"))
    return rows


def render_accounting(session: Session, row: PrintedReport) -> tuple[bytes, int]:
    client = session.get(Client, row.client_id)
    assert client is not None
    since = datetime.fromisoformat(record_parameters(row)["since"])
    rows = disclosures_between(session, client.id, since, row.generated_at)
    tz = facility_tz()
    story: list[Flowable] = [
        pdf.para("Accounting of disclosures", "title"),
        pdf.para("Federal confidentiality rules, 42 CFR Part 2 (§2.25)", "muted"),
        pdf.gap(6),
        pdf.facts(
            [
                *_identity(session, client, row),
                ("Period", f"{_day(since, tz)} to {_day(row.generated_at, tz)}"),
            ]
        ),
        pdf.gap(6),
        pdf.para(
            "Every disclosure of these records made with the client's written consent or in a "
            "medical emergency during the period, newest first.",
        ),
        pdf.gap(4),
    ]
    if rows:
        story.append(
            pdf.table(
                ("Date and time", "Recipient", "Purpose", "Information", "Basis", "Released by"),
                [_accounting_row(d, tz) for d in rows],
                _widths(0.14, 0.18, 0.18, 0.22, 0.14, 0.14),
            )
        )
    else:
        story.append(pdf.empty("No disclosures in this period."))
    return pdf.render(story, _meta(session, row, client, "Accounting of disclosures"))


def _accounting_row(d: Disclosure, tz) -> tuple[str, ...]:
    what = rules.information_labels(rules.parse_information(d.information))
    if d.period_start and d.period_end:
        what += f" ({d.period_start.isoformat()} to {d.period_end.isoformat()})"
    basis = (
        f"Consent signed {d.consent.signed_on.isoformat()} (no. {d.consent.id})"
        if d.consent is not None
        else "Medical emergency (§2.51)"
    )
    return (
        d.released_at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z"),
        d.recipient,
        d.purpose,
        what,
        basis,
        d.released_by.display_name,
    )


def disclosures_between(
    session: Session, client_id: int, since: datetime, until: datetime
) -> list[Disclosure]:
    return list(
        session.scalars(
            sa.select(Disclosure)
            .where(
                Disclosure.client_id == client_id,
                Disclosure.released_at >= since,
                Disclosure.released_at <= until,
            )
            .options(joinedload(Disclosure.consent), joinedload(Disclosure.released_by))
            .order_by(Disclosure.released_at.desc(), Disclosure.id.desc())
        )
    )


# ---------------------------------------------------------------------------------------------
# The consent a disclosure was released under (§2.32: the notice, and a copy of the consent or
# a clear explanation of its scope, accompany every disclosure made with consent)

RELEASED_UNDER = "Consent under which this was released"


def released_under(consents: list[tuple[str, dict[str, Any]]], notice: str) -> list[Flowable]:
    """The closing page(s) of a disclosed PDF: for each client listed (label, the snapshot of
    the consent used), every element of that consent as recorded when it was released."""
    title = RELEASED_UNDER if len(consents) == 1 else "Consents under which this was released"
    story: list[Flowable] = [
        PageBreak(),
        pdf.para(title, "title"),
        pdf.gap(4),
        pdf.para(
            "This record was disclosed with the client's written consent (42 CFR §2.31). The "
            "elements of the consent follow; the signed original is kept by the program. "
            f"Notice (42 CFR §2.32): {notice}",
        ),
    ]
    for label, p in consents:
        story.append(pdf.keep(pdf.heading(label, 3), pdf.facts(scope_rows(p))))
    return story


def scope_rows(p: dict[str, Any]) -> list[tuple[str, str]]:
    """A consent's elements, label and text, from its snapshot."""
    info = ", ".join(rules.information_label(code) for code in p["information"])
    if p["information_detail"]:
        info += f" ({p['information_detail']})"
    signer = (
        f"{p['representative_name']} ({p['representative_authority']})"
        if p["signed_by"] == rules.REPRESENTATIVE
        else "The client"
    )
    return [
        ("Consent number", str(p["consent_id"])),
        ("Kind", dict(rules.KINDS).get(p["kind"], p["kind"])),
        ("Who may disclose", p["discloser"]),
        ("Information", info),
        ("Recipient", p["recipient"]),
        ("Purpose", p["purpose"]),
        ("Expiry", _expiry(p)),
        ("Signed", f"{signer}, on {p['signed_on']}"),
        ("Revocation", p["revocation_statement"]),
    ]


def scope_line(p: dict[str, Any]) -> str:
    """The same elements on one line, for the notice block of a CSV file."""
    return "; ".join(f"{label}: {value.rstrip('.')}" for label, value in scope_rows(p))


# ---------------------------------------------------------------------------------------------
# Shared pieces


def record_parameters(row: PrintedReport) -> dict[str, Any]:
    return json.loads(row.parameters or "{}")


def _identity(session: Session, client: Client, row: PrintedReport) -> list[tuple[str, str]]:
    author = session.get(User, row.generated_by_id)
    return [
        ("Program", _facility(session)),
        ("Client", _client_name(client)),
        ("Date of birth", client.date_of_birth.isoformat()),
        ("MRN", client.mrn),
        ("Printed", _day(row.generated_at, facility_tz(), "%Y-%m-%d %H:%M %Z")),
        ("Printed by", author.display_name if author else ""),
    ]


def _client_name(client: Client) -> str:
    return f"{client.legal_first_name} {client.legal_last_name}"


def _day(at: datetime, tz, fmt: str = "%Y-%m-%d") -> str:
    return at.astimezone(tz).strftime(fmt)


def _widths(*shares: float) -> list[float]:
    usable = pdf.PAGE[0] - 2 * pdf.MARGIN
    return [usable * s for s in shares]


def _facility(session: Session) -> str:
    name = session.scalar(sa.select(Setting.value).where(Setting.key == settings.FACILITY_NAME))
    return name or current_app.config["FACILITY_NAME"]


def _meta(session: Session, row: PrintedReport, client: Client, title: str) -> pdf.Meta:
    key = "|".join(
        str(v) for v in (row.kind, row.client_id, row.generated_at.isoformat(), row.generated_by_id)
    )
    return pdf.Meta(
        title=title,
        facility=_facility(session),
        generated_at=row.generated_at,
        key=f"{key}|{row.parameters}",
        client_label=f"{client.legal_last_name}, {client.legal_first_name} · MRN {client.mrn}",
        notice=current_app.config.get("PART2_NOTICE", pdf.PART2_NOTICE),
    )


record.register(CONSENT, render_consent)
record.register(ACCOUNTING, render_accounting)
