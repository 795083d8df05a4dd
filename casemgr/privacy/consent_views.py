"""Consents (42 CFR Part 2 §2.31), disclosures under them and the accounting (§2.25).

Reading a client's consents needs the chart (CLIENT_VIEW); recording, revoking, printing and
the signed scan need CONSENT_MANAGE, and releasing records or printing the accounting needs
DISCLOSE: managers, and counselors for their own open caseload (the object rule takes the
client). Every page and file here is sent with `Cache-Control: no-store`.
"""

from __future__ import annotations

import logging
import re

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from ..admin import settings
from ..audit.hooks import record as audit
from ..auth.web import me
from ..clients.access import load_client
from ..clients.models import Client
from ..domain import consent as rules
from ..domain.errors import DomainError
from ..extensions import db
from ..forms import attempt
from ..orm import utcnow
from ..policy import Perm, authorize, requires
from ..timefmt import today
from . import consents as services
from .consent_forms import ConsentForm, DiscloseForm, RevokeForm
from .models import Consent

bp = Blueprint("consents", __name__)
log = logging.getLogger("casemgr")

# The signed scan may be up to 5 MB, above the app-wide request limit, plus the form's fields.
UPLOAD_LIMIT = services.MAX_SCAN_BYTES + 256 * 1024
FAILED = (
    "The PDF could not be produced. Nothing was released or recorded, and the error has been "
    "logged. Try again; if it happens again, tell your administrator."
)


@bp.record_once
def _allow_scans(state) -> None:
    # CSRF protection reads the form in the first before-request hook, so the larger limit
    # for the consent form must be set before that one runs.
    state.app.before_request_funcs.setdefault(None, []).insert(0, _raise_upload_limit)


def _raise_upload_limit() -> None:
    if request.endpoint == "consents.new" and request.method == "POST":
        request.max_content_length = UPLOAD_LIMIT


# ---------------------------------------------------------------------------------------------
# Reading


@bp.get("/clients/<int:client_id>")
@requires(Perm.CLIENT_VIEW)
def index(client_id: int):
    client = load_client(client_id)
    audit(db.session, "consent.list_viewed", target=client)
    db.session.commit()
    on, now = today(), utcnow()
    rows = [
        (c, services.status(c, client, on)) for c in services.consents_of(db.session, client.id)
    ]
    return render_template(
        "consents/index.html",
        client=client,
        groups={
            s: [c for c, st in rows if st == s]
            for s in (rules.ACTIVE, rules.EXPIRED, rules.REVOKED)
        },
        disclosures=services.accounting(db.session, client.id, now),
        since=services.accounting_since(now),
        labels=rules.information_labels,
        parse=rules.parse_information,
    )


@bp.get("/<int:consent_id>")
@requires(Perm.CLIENT_VIEW)
def show(consent_id: int):
    consent, client = _load(consent_id)
    audit(db.session, "consent.viewed", target=consent)
    db.session.commit()
    return render_template(
        "consents/show.html",
        client=client,
        consent=consent,
        status=services.status(consent, client, today()),
        disclosures=services.disclosures_under(db.session, consent.id),
        rules=rules,
    )


# ---------------------------------------------------------------------------------------------
# Recording and revoking


@bp.route("/clients/<int:client_id>/new", methods=["GET", "POST"])
@requires(Perm.CONSENT_MANAGE)
def new(client_id: int):
    client = load_client(client_id)
    authorize(Perm.CONSENT_MANAGE, client)
    form = ConsentForm()
    if not form.is_submitted():
        form.discloser.data = _facility_name()
        form.revocation_statement.data = current_app.config.get(
            "CONSENT_REVOCATION_STATEMENT", rules.DEFAULT_REVOCATION_STATEMENT
        )
        form.signed_on.data = today()
    if form.validate_on_submit():
        if form.print_blank.data:
            response = _print_blank(form, client)
            if response is not None:
                return response
        else:
            consent = _record(form, client)
            if consent is not None:
                flash("Consent recorded.", "success")
                return redirect(url_for("consents.show", consent_id=consent.id))
    return render_template("consents/new.html", client=client, form=form, rules=rules)


def _record(form: ConsentForm, client: Client) -> Consent | None:
    upload = form.scan.data
    scan = upload.stream.read(services.MAX_SCAN_BYTES + 1) if upload else None
    try:
        consent = services.record_consent(
            db.session,
            client,
            form.terms(),
            form.signing(),
            scan=scan or None,
            by=me(),
            today=today(),
            instance_path=current_app.instance_path,
        )
        db.session.commit()
    except rules.InvalidConsent as exc:
        db.session.rollback()
        form.show_problems(exc.problems)
        return None
    return consent


def _print_blank(form: ConsentForm, client: Client) -> Response | None:
    try:
        data = services.print_blank(
            db.session, client, form.terms(), by=me(), now=_now(), today=today()
        )
        db.session.commit()
    except rules.InvalidConsent as exc:
        db.session.rollback()
        form.show_problems(exc.problems)
        return None
    return _pdf(data, f"consent-{_safe(client.mrn)}-unsigned.pdf")


@bp.route("/<int:consent_id>/revoke", methods=["GET", "POST"])
@requires(Perm.CONSENT_MANAGE)
def revoke(consent_id: int):
    consent, client = _load(consent_id, Perm.CONSENT_MANAGE)
    form = RevokeForm()
    if not form.is_submitted():
        form.revoked_on.data = today()
    if consent.revoked_on is None and form.validate_on_submit():
        done, _ = attempt(
            form,
            lambda: services.revoke(
                db.session,
                consent,
                on=form.revoked_on.data,
                note=form.note.data,
                by=me(),
                today=today(),
            ),
        )
        if done:
            flash(f"Consent revoked as of {form.revoked_on.data.isoformat()}.", "success")
            return redirect(url_for("consents.show", consent_id=consent.id))
    return render_template("consents/revoke.html", client=client, consent=consent, form=form)


# ---------------------------------------------------------------------------------------------
# Files: the consent for signature, the signed scan, the accounting


@bp.get("/<int:consent_id>/print", endpoint="print")
@requires(Perm.CONSENT_MANAGE)
def print_consent(consent_id: int):
    consent, client = _load(consent_id, Perm.CONSENT_MANAGE)
    data = services.print_consent(db.session, consent, by=me(), now=_now())
    db.session.commit()
    return _pdf(data, f"consent-{_safe(client.mrn)}-{consent.id}.pdf")


@bp.get("/<int:consent_id>/scan")
@requires(Perm.CONSENT_MANAGE)
def scan(consent_id: int):
    consent, _ = _load(consent_id, Perm.CONSENT_MANAGE)
    if not consent.scan_file:
        abort(404)
    try:
        data, mimetype, extension = services.read_scan(current_app.instance_path, consent)
    except services.ScanUnavailable as exc:
        log.error("consent %s: the signed scan cannot be served (%s)", consent.id, exc)
        audit(db.session, "consent.scan_unavailable", target=consent, detail={"why": str(exc)})
        db.session.commit()
        abort(404)
    audit(db.session, "consent.scan_downloaded", target=consent)
    db.session.commit()
    response = _file(data, mimetype, f"consent-{consent.id}-signed.{extension}")
    response.headers["Content-Security-Policy"] = "sandbox"
    return response


@bp.get("/clients/<int:client_id>/accounting.pdf")
@requires(Perm.DISCLOSE)
def accounting(client_id: int):
    client = load_client(client_id)
    authorize(Perm.DISCLOSE, client)
    now = _now()
    data = services.print_accounting(db.session, client, by=me(), now=now)
    db.session.commit()
    return _pdf(data, f"accounting-{_safe(client.mrn)}-{now.date().isoformat()}.pdf")


# ---------------------------------------------------------------------------------------------
# Disclosing


@bp.route("/clients/<int:client_id>/disclose", methods=["GET", "POST"])
@requires(Perm.DISCLOSE)
def disclose(client_id: int):
    client = load_client(client_id)
    authorize(Perm.DISCLOSE, client)
    on = today()
    form = DiscloseForm(today=on)
    episode = client.episodes[-1] if client.episodes else None
    if not form.is_submitted():
        form.start.data = episode.admitted_on if episode else on
        form.end.data = on if episode is None or episode.is_open else episode.discharged_on or on
    if form.validate_on_submit():
        response = _release(form, client)
        if response is not None:
            return response
    active = [
        c
        for c in services.consents_of(db.session, client.id)
        if services.status(c, client, on) == rules.ACTIVE
    ]
    return render_template(
        "consents/disclose.html",
        client=client,
        form=form,
        active=active,
        labels=rules.information_labels,
        parse=rules.parse_information,
    )


def _release(form: DiscloseForm, client: Client) -> Response | None:
    """Release under a covering consent and commit: the PDF, or None with the reason shown."""
    try:
        release = services.disclose(
            db.session,
            client,
            recipient=form.recipient.data,
            purpose=form.purpose.data,
            information=frozenset(form.information.data or ()),
            period=(form.start.data, form.end.data),
            by=me(),
            now=_now(),
            today=today(),
            legal_proceeding=form.legal_proceeding.data,
        )
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        if isinstance(exc, services.Refused):
            services.audit_refusal(db.session, client, exc.code)
            db.session.commit()
        field = getattr(form, exc.field or "", None)
        (field.errors if field is not None else form.form_errors).append(str(exc))
        return None
    except Exception:  # rendering or saving failed: nothing is kept, the user is told
        db.session.rollback()
        log.exception("disclosing a report of client %s failed", client.id)
        form.form_errors.append(FAILED)
        return None
    consent = release.consent
    flash(
        # No recipient here: flashed messages travel in the (signed, unencrypted) cookie.
        f"Released under the consent signed {consent.signed_on.isoformat()} (consent "
        f"{consent.id}); recorded in the accounting of disclosures.",
        "success",
    )
    end = release.report.period_end
    return _pdf(
        release.data,
        f"disclosure-{_safe(client.mrn)}-{end.isoformat() if end else 'undated'}.pdf",
    )


# ---------------------------------------------------------------------------------------------
# Helpers


def _load(consent_id: int, perm: Perm | None = None) -> tuple[Consent, Client]:
    """The consent, through its client's scope (404 outside it), and `perm` on the client."""
    consent = services.get(db.session, consent_id)
    if consent is None:
        abort(404)
    client = load_client(consent.client_id)
    if perm is not None:
        authorize(perm, client)
    return consent, client


def _now():
    return utcnow().replace(microsecond=0)


def _facility_name() -> str:
    return settings.facility_name(db.session)


def _safe(mrn: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "", mrn) or "client"


def _pdf(data: bytes, file_name: str) -> Response:
    return _file(data, "application/pdf", file_name)


def _file(data: bytes, mimetype: str, file_name: str) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{file_name}"'
    response.headers["Cache-Control"] = "no-store"
    return response
