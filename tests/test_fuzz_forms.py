"""Hostile text into every field of every POST form: a clean error or a correct round trip,
never a 500, and the same answer from SQLite and PostgreSQL (security matrix I-04, I-05, I-06;
issue 8). `make test` runs it on SQLite and, with CASEMGR_TEST_DATABASE_URL, on PostgreSQL.

Every POST route of the app needs an entry in SPECS (who may use it, the records its page
needs); its form's fields are read off the page itself. Each field then gets, one at a time
and the rest of the form valid, a fixed set of hostile values (NUL, over-long, invalid UTF-8,
markup and SQL with bidi controls and emoji, exactly the maximum length and one more,
impossible dates) and a few Hypothesis examples. After each POST:

- never a 500, and no NUL in any statement sent to the database (PostgreSQL refuses it);
- a save (a redirect, or a PDF) stores nothing PostgreSQL would refuse (NUL, longer than the
  column) and keeps the text as typed (or trimmed): for the forms marked `exact`, among the
  strings that POST wrote;
- a refusal (200, 400, 409, 413, 429) writes no row and says why on the page.

CASEMGR_FUZZ_EXAMPLES=200 runs that many Hypothesis examples on each form (default: two
more than the form has fields, at most ten, about a minute on each database).
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
import time_machine
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import HTTPException

from casemgr.extensions import db
from tests.clients_helpers import NOW
from tests.conftest import csrf_token
from tests.factories import PASSWORD
from tests.fuzz_helpers import (
    TEXT_INPUTS,
    Control,
    Form,
    World,
    forms_on,
    row_counts,
    stored_strings,
)
from tests.mar.helpers import slot_arg

STRONG = "a brand new and memorable passphrase"


@dataclass(frozen=True)
class Spec:
    """How to reach one POST route's form: who signs in, the URL values, and the page that
    holds the form when it is not the route's own GET page."""

    role: str | None  # a World attribute; None: not signed in; "pending": at the code step
    values: Callable[[World], dict] = lambda w: {}
    host: Callable[[World], tuple[str, dict]] | None = None
    needs: tuple[str, ...] = ()  # World records the page lists (made before it is read)
    valid: dict[str, Any] = field(default_factory=dict)  # make the untouched form valid
    uses_up: tuple[str, ...] = ()  # World records a save consumes
    action: str = ""  # a substring of the form's action, when the page has several
    stores: bool = True  # a save keeps the text it was given
    reads: bool = False  # a search: its 200 is an answer, not a refusal
    kept_if: tuple[str, ...] = ()  # fields stored only with some other choice on the form
    exact: bool = False  # check the saved text among the strings this very POST wrote


def _slot(n: int) -> dict[str, str]:
    """A free half hour for the n-th session of a test (sessions may not overlap)."""
    day, half = divmod(n, 16)
    start = 8 * 60 + half * 30
    return {
        "session_date": f"2026-11-{2 + day % 20:02d}",
        "start_time": f"{start // 60:02d}:{start % 60:02d}",
        "end_time": f"{(start + 25) // 60:02d}:{(start + 25) % 60:02d}",
    }


def _letters(n: int) -> str:
    return "".join(chr(ord("a") + int(d)) for d in str(n))


def _fuzz_site(w: World) -> str:
    """An open site to move an episode to (the World's episodes have none): its id."""
    from casemgr.sites.models import Site

    site = db.session.scalar(sa.select(Site).where(Site.code == "FUZZ"))
    if site is None:
        site = w.make.site("Fuzz Residential", "FUZZ")
        db.session.commit()
    return str(site.id)


def _site(w: World, active: bool = True) -> dict:
    """A site for the administrator's site forms (open, or closed to reactivate)."""
    key = f"site_{active}"
    if key not in w._cache:
        w._cache[key] = w.make.site(active=active)
        db.session.commit()
    return {"site_id": w._cache[key].id}


def _movable(w: World) -> dict:
    """The rehab episode's URL values, with an open site to move it to."""
    _fuzz_site(w)
    return {"episode_id": w.rehab.id}


# Every kind of funding, so that each member id and payer is kept.
FUNDING = {
    "funding": ["medicaid", "medicare", "private", "employer"],
    "private_payer": "Blue Plan",
    "employer_payer": "Acme Works",
}

SPECS: dict[str, Spec] = {
    "admin.settings_edit": Spec("admin"),
    # The code is stored in capitals: not kept exactly as typed.
    "sites.new": Spec(
        "admin",
        valid={"code": lambda w, n: f"FZ{n}", "name": lambda w, n: f"Fuzz site {n}"},
        kept_if=("code",),
    ),
    "sites.edit": Spec("admin", _site, kept_if=("code",)),
    "sites.deactivate": Spec("admin", host=lambda w: ("sites.edit", _site(w))),
    "sites.reactivate": Spec("admin", host=lambda w: ("sites.edit", _site(w, active=False))),
    "admin.staff_edit": Spec("admin", lambda w: {"user_id": w.target.id}),
    "admin.staff_new": Spec(
        "admin",
        valid={
            "login": lambda w, n: f"fuzz{n}",
            "full_name": "Fern Fuzz",
            "roles": "nurse",
            "password": STRONG,
            "confirm": STRONG,
        },
    ),
    "admin.staff_password": Spec(
        "admin", lambda w: {"user_id": w.target.id}, valid={"password": STRONG, "confirm": STRONG}
    ),
    "admin.staff_action": Spec(
        "admin", host=lambda w: ("admin.staff_show", {"user_id": w.target.id})
    ),
    "aftercare.close": Spec(
        "counselor",
        lambda w: {"episode_id": w.aftercare.id},
        valid={"summary": "A steady year.", "reason_code": "2"},
        uses_up=("aftercare", "check_in"),
    ),
    "aftercare.record_check_in": Spec(
        "counselor",
        lambda w: {"check_in_id": w.check_in.id},
        valid={"reached": "yes", "method": "phone", "days_used_30": "0"},
        uses_up=("check_in",),
        exact=True,
    ),
    "aftercare.relapse": Spec(
        "counselor",
        lambda w: {"episode_id": w.aftercare.id},
        valid={"trigger": "other", "trigger_other": "Payday"},
    ),
    "aftercare.void_check_in": Spec(
        "counselor",
        lambda w: {"check_in_id": w.recorded_check_in.id},
        valid={"reason": "Entered on the wrong client"},
        uses_up=("recorded_check_in",),
    ),
    "aftercare.void_relapse": Spec(
        "counselor",
        lambda w: {"relapse_id": w.relapse.id},
        valid={"reason": "Entered on the wrong client"},
        uses_up=("relapse",),
    ),
    "aftercare.reschedule": Spec(
        "counselor",
        lambda w: {"check_in_id": w.check_in.id},
        valid={"rescheduled_to": "2026-12-01", "reason": "At work that day"},
    ),
    "auth.change_password": Spec(
        "counselor",
        valid={"current_password": PASSWORD, "new_password": STRONG, "confirm": STRONG},
        stores=False,
    ),
    "auth.login": Spec(
        None,
        valid={"login": lambda w, n: w.counselor.login, "password": PASSWORD},
        stores=False,
    ),
    "auth.logout": Spec("counselor", host=lambda w: ("home.role_home", {"role": "counselor"})),
    "auth.second_factor": Spec("pending", stores=False),
    "auth.two_factor": Spec("counselor", stores=False),
    "batches.new": Spec(
        "manager",
        needs=("rehab",),
        valid={"purpose": "Quarterly payer review"},
        kept_if=("recipient",),  # for a release outside only (issue 8)
    ),
    "batches.verify": Spec("manager", host=lambda w: ("batches.log", {}), needs=("printed",)),
    "ccplan.add_item:trigger": Spec(
        "counselor",
        host=lambda w: ("ccplan.show", {"plan_id": w.ccplan.id}),
        action="/trigger",
        valid={"trigger-description": "Old friends", "trigger-risk": "2"},
    ),
    "ccplan.add_item:support": Spec(
        "counselor",
        host=lambda w: ("ccplan.show", {"plan_id": w.ccplan.id}),
        action="/support",
        valid={"support-name": "NA home group", "support-contact_consent": "y"},
    ),
    "ccplan.add_item:life_change": Spec(
        "counselor",
        host=lambda w: ("ccplan.show", {"plan_id": w.ccplan.id}),
        action="/life_change",
        valid={"life_change-description": "Sober living"},
    ),
    "ccplan.edit": Spec("counselor", lambda w: {"plan_id": w.ccplan.id}, exact=True),
    "ccplan.new": Spec("counselor", lambda w: {"episode_id": w.rehab.id}, uses_up=("rehab",)),
    "ccplan.remove_item": Spec(
        "counselor",
        host=lambda w: ("ccplan.show", {"plan_id": w.ccplan.id}),
        uses_up=("ccplan", "aftercare", "check_in"),
    ),
    "ccplan.sign": Spec("counselor", lambda w: {"plan_id": w.ccplan.id}, stores=False),
    "clients.edit": Spec(
        "counselor", lambda w: {"client_id": w.intake.client_id}, valid=dict(FUNDING), exact=True
    ),
    "clients.index": Spec("counselor", needs=("intake",), stores=False, reads=True),
    "clients.new": Spec(
        "manager",
        valid={
            "legal_first_name": "Fay",
            "legal_last_name": lambda w, n: f"Fuzz{_letters(n)}",
            "date_of_birth": "1990-04-02",
        }
        | FUNDING,
        exact=True,
    ),
    "consents.disclose": Spec(
        "manager",
        lambda w: {"client_id": w.consent.client_id},
        valid={"recipient": "Judge Ana Ortiz", "purpose": "Drug court compliance review"},
    ),
    "consents.new": Spec(
        "manager",
        lambda w: {"client_id": w.rehab.client_id},
        valid={
            "information": ["attendance", "drug_screens"],
            "recipient_name": "Judge Ana Ortiz",
            "recipient_organisation": "County Drug Court",
            "purpose": "Drug court compliance review",
            "expires_on": "2027-05-20",
            "signature_method": "app",
            "typed_signature": "Remy Rivers",
        },
        kept_if=("expiry_event", "representative_name", "representative_authority"),
        exact=True,
    ),
    "consents.revoke": Spec(
        "manager",
        lambda w: {"consent_id": w.consent.id},
        valid={"revoked_on": "2026-11-25", "note": "Signed letter from the client"},
        uses_up=("consent",),
    ),
    "detox.ciwa": Spec(
        "nurse",
        lambda w: {"episode_id": w.detox.id},
        valid={"assessed_at": "2026-11-25T07:00", "backdate_reason": "From the paper flowsheet"},
        exact=True,
    ),
    "detox.cows": Spec(
        "nurse",
        lambda w: {"episode_id": w.detox.id},
        valid={"assessed_at": "2026-11-25T07:00", "backdate_reason": "From the paper flowsheet"},
        exact=True,
    ),
    "detox.void_assessment": Spec(
        "nurse",
        lambda w: {"assessment_id": w.assessment.id},
        valid={"reason": "Entered on the wrong client"},
        uses_up=("assessment",),
    ),
    "detox.clearance": Spec(
        "physician",
        lambda w: {"episode_id": w.detox.id},
        valid={"note": "Withdrawal resolved"},
        uses_up=("detox",),
    ),
    "emergency.start": Spec(
        "outsider",
        lambda w: {"client_id": w.intake.client_id},
        valid={
            "receiving_personnel": "Dr. Lee",
            "receiving_facility": "General Hospital ED",
            "nature": "Unresponsive on arrival, suspected overdose",
            "confirmed_at": "2026-11-25T10:00",
            "confirm": "y",
        },
        uses_up=("intake",),
    ),
    "emergency.end": Spec(
        "outsider", host=lambda w: ("clients.show", {"client_id": w.broken_glass.client_id})
    ),
    "emergency.acknowledge": Spec(
        "manager",
        host=lambda w: ("home.role_home", {"role": "clinic_manager"}),
        needs=("broken_glass",),
    ),
    "episodes.assign": Spec(
        "manager",
        lambda w: {"episode_id": w.intake.id},
        needs=("outsider",),
        valid={"reason": "Caseload balancing", "counselor": lambda w, n: str(w.outsider.id)},
        uses_up=("intake",),
    ),
    "episodes.change_phase": Spec(
        "counselor",
        lambda w: {"episode_id": w.intake.id},
        valid={"reason": "Withdrawal symptoms"},
        uses_up=("intake",),
    ),
    "episodes.discharge": Spec(
        "counselor", lambda w: {"episode_id": w.rehab.id}, uses_up=("rehab",)
    ),
    "episodes.level_of_care": Spec("counselor", lambda w: {"episode_id": w.rehab.id}),
    "episodes.change_site": Spec(
        "manager",
        _movable,
        valid={"site": lambda w, n: _fuzz_site(w), "reason": "Continues in residential rehab"},
        uses_up=("rehab",),
    ),
    "episodes.readmit": Spec(
        "manager", lambda w: {"client_id": w.discharged.client_id}, uses_up=("discharged",)
    ),
    # Internal use by default: the recipient is kept only for a release outside (issue 8).
    "facility_reports.census": Spec(
        "manager",
        host=lambda w: ("facility_reports.index", {}),
        action="/census",
        needs=("rehab",),
        valid={"purpose": "Monthly staff meeting"},
        kept_if=("recipient",),
    ),
    "facility_reports.caseload": Spec(
        "manager",
        host=lambda w: ("facility_reports.index", {}),
        action="/caseload",
        needs=("rehab",),
        valid={"purpose": "Monthly staff meeting"},
        kept_if=("recipient",),
    ),
    "groups.edit": Spec("counselor", lambda w: {"group_id": w.group_rows["group_id"]}),
    "groups.enrol": Spec(
        "counselor",
        lambda w: {"group_id": w.group_rows["group_id"]},
        needs=("intake",),
        uses_up=("intake",),
    ),
    "groups.new": Spec(
        "counselor",
        valid={"name": lambda w, n: f"Group {n}", "facilitators": lambda w, n: str(w.counselor.id)},
    ),
    "groups.record_meeting": Spec(
        "counselor",
        lambda w: {"group_id": w.group_rows["group_id"]},
        valid={
            "topic": "Coping with cravings",
            "meeting_date": lambda w, n: f"2026-11-{1 + n % 24:02d}",
            "seats-0-participation": "Engaged",
        },
    ),
    "groups.sign_meeting": Spec(
        "counselor",
        host=lambda w: ("groups.show_meeting", {"meeting_id": w.meeting.id}),
        stores=False,
    ),
    "groups.unenrol": Spec(
        "counselor",
        host=lambda w: ("groups.show", {"group_id": w.group_rows["group_id"]}),
        uses_up=("group_rows",),
    ),
    "mar.cosign": Spec("physician", lambda w: {"order_id": w.order.id}, stores=False),
    "mar.void_dose": Spec(
        "nurse",
        lambda w: {"dose_id": w.dose.id},
        valid={"reason": "Entered on the wrong client"},
        uses_up=("dose",),
    ),
    "mar.discontinue": Spec(
        "physician",
        lambda w: {"order_id": w.order.id},
        valid={"reason": "No longer needed"},
        uses_up=("order",),
    ),
    "mar.give": Spec(
        "nurse",
        lambda w: {"order_id": w.order.id, "slot": slot_arg(8)},
        valid={"witness_login": lambda w, n: w.physician.login, "witness_password": PASSWORD},
        kept_if=("reason", "override_reason"),  # a held or refused dose; over the maximum
        uses_up=("order",),
    ),
    "mar.new_order": Spec(
        "physician",
        lambda w: {"episode_id": w.detox.id},
        valid={"dose": "30", "times": "08:00", "starts_at": "2026-11-25T08:00"},
        kept_if=("prn_indication",),  # an as-needed order's
    ),
    "notes.addendum": Spec(
        "counselor",
        lambda w: {"note_id": w.signed_note.id},
        valid={"reason": "Late information", "text": "The client called back."},
    ),
    "notes.cosign": Spec(
        "supervisor",
        host=lambda w: ("notes.show", {"note_id": w.awaiting_cosign.id}),
        stores=False,
    ),
    "notes.edit": Spec("counselor", lambda w: {"note_id": w.draft_note.id}, exact=True),
    "notes.new": Spec(
        "counselor",
        lambda w: {"episode_id": w.rehab.id, "format": "dap"},
        valid={"section_data": "Client reports cravings 6/10."}
        | {k: (lambda w, n, k=k: _slot(n)[k]) for k in ("session_date", "start_time", "end_time")},
        exact=True,
    ),
    "notes.return_to_author": Spec(
        "supervisor",
        host=lambda w: ("notes.show", {"note_id": w.awaiting_cosign.id}),
        uses_up=("awaiting_cosign",),
    ),
    "notes.sign": Spec("counselor", lambda w: {"note_id": w.draft_note.id}, stores=False),
    "plans.add_child": Spec(
        "counselor",
        lambda w: {"plan_id": w.plan.id, "kind": "problem", "part_id": w.plan.problems[0].id},
        valid={"statement": "Sustained recovery"},
        exact=True,
    ),
    "plans.add_problem": Spec(
        "counselor", lambda w: {"plan_id": w.plan.id}, valid={"statement": "Opioid use"}, exact=True
    ),
    "plans.create": Spec(
        "counselor", host=lambda w: ("plans.show", {"episode_id": w.rehab.id}), uses_up=("rehab",)
    ),
    "plans.edit": Spec("counselor", lambda w: {"plan_id": w.plan.id}, exact=True),
    "plans.edit_item:problem": Spec(
        "counselor",
        lambda w: {"plan_id": w.plan.id, "kind": "problem", "part_id": w.plan.problems[0].id},
        exact=True,
    ),
    "plans.edit_item:goal": Spec(
        "counselor",
        lambda w: {
            "plan_id": w.plan.id,
            "kind": "goal",
            "part_id": w.plan.problems[0].goals[0].id,
        },
        exact=True,
    ),
    "plans.edit_item:objective": Spec(
        "counselor",
        lambda w: {
            "plan_id": w.plan.id,
            "kind": "objective",
            "part_id": w.plan.problems[0].goals[0].objectives[0].id,
        },
        exact=True,
    ),
    "plans.edit_item:intervention": Spec(
        "counselor",
        lambda w: {
            "plan_id": w.plan.id,
            "kind": "intervention",
            "part_id": w.plan.problems[0].goals[0].objectives[0].interventions[0].id,
        },
        exact=True,
    ),
    "plans.remove_item": Spec(
        "counselor",
        host=lambda w: ("plans.edit", {"plan_id": w.plan.id}),
        uses_up=("plan", "rehab"),
    ),
    "plans.sign": Spec(
        "counselor",
        lambda w: {"plan_id": w.plan.id},
        valid={"password": PASSWORD},
        uses_up=("plan", "rehab"),
        stores=False,
    ),
    "plans.start_review": Spec(
        "counselor",
        host=lambda w: ("plans.version", {"plan_id": w.signed_plan.id}),
        uses_up=("signed_plan", "rehab"),
    ),
    "printing.discharge": Spec(
        "manager", lambda w: {"episode_id": w.discharged.id}, valid={"purpose": "Referral"}
    ),
    "printing.progress": Spec(
        "manager",
        lambda w: {"client_id": w.rehab.client_id},
        valid={"purpose": "Court review", "start": "2026-11-01", "end": "2026-11-24"},
    ),
    "restrictions.index": Spec(
        "manager",
        lambda w: {"client_id": w.rehab.client_id},
        needs=("outsider",),
        valid={"reason": "A relative of the client"},
    ),
    "restrictions.lift": Spec(
        "manager",
        host=lambda w: ("restrictions.index", {"client_id": w.restriction.client_id}),
        uses_up=("restriction",),
    ),
    "screens.void": Spec(
        "counselor",
        lambda w: {"screen_id": w.screen.id},
        valid={"reason": "Entered on the wrong client"},
        uses_up=("screen",),
    ),
    "screens.new": Spec(
        "nurse",
        lambda w: {"episode_id": w.detox.id},
        valid={"collected_at": "2026-11-25T09:00", "result_opiates": "negative"},
    ),
    "transfer.import_clients": Spec("manager", stores=False),
    # Its form is the checked file's page: CsvRunner uploads, then confirms (fuzzing cells).
    "transfer.import_confirm": Spec("manager"),
}


def endpoint_of(key: str) -> str:
    return key.split(":")[0]


def discovered_post_endpoints(app) -> set[str]:
    return {r.endpoint for r in app.url_map.iter_rules() if "POST" in r.methods} - {"static"}


# ---------------------------------------------------------------------------------------------
# Driving one form


class Failure(AssertionError):
    pass


class Runner:
    """Signs in the spec's user, finds the form on its page and posts variations of it."""

    def __init__(self, app, world: World, key: str, spec: Spec):
        self.app, self.world, self.key, self.spec = app, world, key, spec
        self.endpoint = endpoint_of(key)
        self.client = app.test_client()
        self.counter = itertools.count(1)
        self._form: Form | None = None
        self.saves = self.refusals = 0
        if spec.role in (None, "pending"):  # no code typed for them: the clock is frozen and
            self.client.answer_second_factor = False  # each 30-second step's code works once
        if spec.role == "pending":
            self._password_step(world.counselor)
        elif spec.role is not None:  # both steps (the client types the code)
            resp = self._password_step(getattr(world, spec.role))
            assert resp.status_code == 302 and resp.headers["Location"] != "/login/code"

    def _password_step(self, user):
        page = self.client.get("/login").text
        return self.client.post(
            "/login",
            data={"login": user.login, "password": PASSWORD, "csrf_token": csrf_token(page)},
        )

    def url(self, endpoint: str, values: dict) -> str:
        with self.app.test_request_context():
            return self.app.url_for(endpoint, **values)

    def page_url(self) -> str:
        self.world.need(*self.spec.needs)
        if self.spec.host is not None:
            return self.url(*self.spec.host(self.world))
        return self.url(self.endpoint, self.spec.values(self.world))

    def _find(self) -> Form | None:
        url = self.page_url()
        resp = self.client.get(url)
        if resp.status_code != 200:
            return None
        adapter = self.app.url_map.bind("localhost")
        for form in forms_on(resp.text, url):
            if form.method != "post" or self.spec.action not in form.action:
                continue
            try:
                endpoint, _ = adapter.match(form.path, method="POST")
            except HTTPException:  # a form posting somewhere else
                continue
            if endpoint == self.endpoint:
                return form
        return None

    def form(self) -> Form:
        if self._form is None:
            if self.spec.role == "pending" and self.client.get("/login/code").status_code != 200:
                self._password_step(self.world.counselor)  # the wait for the code ran out
            self._form = self._find()
            if self._form is None and self.spec.uses_up:
                self.world.forget(*self.spec.uses_up)
                self._form = self._find()
            if self._form is None:
                raise Failure(f"{self.key}: no form posting to it on {self.page_url()}")
        return self._form

    def baseline(self, form: Form) -> dict:
        n = next(self.counter)
        data = form.defaults()
        for name, value in self.spec.valid.items():
            data[name] = value(self.world, n) if callable(value) else value
        return data

    def fields(self) -> list[str]:
        form = self.form()
        return [
            n for n in form.names() if not n.endswith("csrf_token") and form.kind_of(n) != "submit"
        ]

    def used(self) -> None:
        """After a save: the page changes (a new version, a new token) and the records the
        spec names are used up."""
        self._form = None
        self.world.forget(*self.spec.uses_up)

    def submit(self, name: str | None = None, value: str | bytes | None = None):
        """POST the form with `name` set to `value` (text, or raw bytes sent as they are)."""
        form = self.form()
        data = self.baseline(form)
        url = form.action
        if name is not None and form.kind_of(name) == "file":
            raw = value.encode() if isinstance(value, str) else value
            data[name] = (io.BytesIO(raw), "upload.csv")
            return self.client.post(url, data=data, content_type="multipart/form-data")
        if name is not None:
            data[name] = value
        if isinstance(value, bytes):  # as a browser sends a field it cannot encode
            body, content_type = multipart(data)
            return self.client.post(url, data=body, content_type=content_type)
        return self.client.post(url, data=data)


# The client import's columns, and those kept as text (the others are codes and dates).
CSV_COLUMNS = (
    "legal_first_name",
    "legal_last_name",
    "preferred_name",
    "date_of_birth",
    "sex",
    "phone",
    "first_contact_on",
    "referral_source",
    "funding",
    "medicaid_id",
    "private_payer",
    "private_member_id",
    "primary_substance",
    "primary_route",
    "primary_frequency",
    "primary_age_first_use",
    "mrn",
    "admitted_on",
    "counselor_login",
)
CSV_TEXT = {"legal_first_name", "legal_last_name", "preferred_name", "medicaid_id"}
CSV_TEXT |= {"private_payer", "private_member_id"}


class CsvRunner(Runner):
    """The import's confirm form exists only on the page of a checked file: each example
    uploads a one-row file with the value in one cell and, when the check passes, confirms
    it as the manager would."""

    def _find(self) -> Form | None:
        self.token = csrf_token(self.client.get("/reports/import").text)
        form = Form("/reports/import/confirm", "post", "multipart/form-data")
        form.controls = [Control(c, "text" if c in CSV_TEXT else "csv-code") for c in CSV_COLUMNS]
        return form

    def submit(self, name=None, value=None):
        self.form()
        n = next(self.counter)
        cells = {
            "legal_first_name": "Ana",
            "legal_last_name": f"Ortiz{_letters(n)}",
            "date_of_birth": "1985-03-09",
            "sex": "female",
            "first_contact_on": "2026-10-01",
            "referral_source": "self",
            "funding": "medicaid; private",
            "medicaid_id": "MCD-7",
            "private_payer": "Blue Plan",
            "private_member_id": "BP-1",
            "primary_substance": "alcohol",
            "primary_route": "oral",
            "primary_frequency": "5",
            "admitted_on": "2026-11-20",
            "counselor_login": self.world.counselor.login,
        }
        marker = "\x1eFUZZ\x1e"
        if name is not None:
            cells[name] = marker
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerow(cells)
        raw = value if isinstance(value, bytes) else (value or "").encode()
        quoted = b'"' + raw.replace(b'"', b'""') + b'"'  # the cell as it is, even bytes
        data = out.getvalue().encode().replace(marker.encode(), quoted)
        resp = self._upload("/reports/import", data)
        digest = re.search(r'name="digest"[^>]*value="([0-9a-f]{64})"', resp.text)
        if resp.status_code != 200 or digest is None:
            return resp
        return self._upload("/reports/import/confirm", data, digest=digest.group(1))

    def _upload(self, url, data, **fields):
        return self.client.post(
            url,
            data={"file": (io.BytesIO(data), "clients.csv"), "csrf_token": self.token, **fields},
            content_type="multipart/form-data",
        )


BOUNDARY = "fuzz-boundary-7d1c0a"


def multipart(data: dict) -> tuple[bytes, str]:
    """A multipart/form-data body carrying bytes values as they are (no encoding)."""
    out = []
    for name, values in data.items():
        for value in values if isinstance(values, list) else [values]:
            raw = value if isinstance(value, bytes) else str(value).encode()
            out += [
                f"--{BOUNDARY}\r\n".encode(),
                f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode(),
                raw,
                b"\r\n",
            ]
    out.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={BOUNDARY}"


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


NUL_QUERIES: list[str] = []


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


def _watch_nul(conn, cursor, statement, parameters, context, executemany):
    """PostgreSQL refuses NUL in any parameter, a lookup as much as a write: seen here, the
    SQLite run fails as the PostgreSQL one would."""
    if _has_nul(parameters):
        NUL_QUERIES.append(statement)


@pytest.fixture
def fuzz_app(app_factory, clock):
    app = app_factory(WTF_CSRF_ENABLED=True, BATCH_RUNNER="inline")
    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", _watch_nul)
        NUL_QUERIES.clear()
        yield app
        sa.event.remove(db.engine, "before_cursor_execute", _watch_nul)
        db.session.remove()


# ---------------------------------------------------------------------------------------------
# What is sent


CHARS = st.characters(codec="utf-8")  # every code point a body can carry: no lone surrogates
HOSTILE = (
    "x\x00y",
    "\x00",
    "<script>alert(1)</script>",
    '"><svg onload=alert(1)>',
    "' OR 1=1 --",
    "name; DROP TABLE clients; --",
    "%_\\",
    "{{7*7}} {% raw %}",
    '=HYPERLINK("http://x")',
    "\u202egnp.exe",  # right-to-left override
    "zero\u200bwidth\u2060joiner\ufeff",
    "مرحبا بالعالم",  # Arabic, right to left
    "שלום",
    "Nguyễn Thị Minh Khai",
    "👩\u200d⚕️🧑🏽\u200d🦯🇺🇸",
    "\x1b[31mred\x1b[0m\x07\x08",
    "line one\r\nline two\rthree\n",
    "\t",
    "   ",
    "",
    "\ufffd",
    "x" * 10_001,
)
INVALID_UTF8 = (
    b"\xff",
    b"\xc3\x28",
    b"\xed\xa0\x80",
    b"\xf8\x88\x80\x80\x80",
    b"\xc0\xaf",
    b"\x80",
)


def _long(piece: str, n: int) -> str:
    return (piece * (n // len(piece) + 1))[:n]


# Text any form should keep as typed: no control, format, private-use or unassigned characters.
PLAIN = st.characters(codec="utf-8", exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn"))
# Short text (any, and plain) and the payloads twice over: one example in three is long or
# not UTF-8.
TEXT = st.one_of(
    st.text(CHARS, max_size=40),
    st.sampled_from(HOSTILE),
    st.text(PLAIN, min_size=1, max_size=40),
    st.sampled_from(HOSTILE),
    st.builds(_long, st.text(CHARS, min_size=1, max_size=3), st.integers(10_000, 100_000)),
    st.builds(
        lambda a, bad, b: a.encode() + bad + b.encode(),
        st.text(CHARS, max_size=5),
        st.sampled_from(INVALID_UTF8),
        st.text(CHARS, max_size=5),
    ),
)
# Every field gets these before Hypothesis explores. Text: NUL, over-long, invalid UTF-8 and
# one string of markup, SQL, bidi controls, invisible characters and emoji. Dates and numbers:
# values just outside what the calendar or the column holds. Choices: junk in place of a code.
HOSTILE_MIX = "\u202e<script>alert(1)</script>' OR 1=1 --\u200b 👩\u200d⚕️ مرحبا"
# The same without bidi and invisible characters: every text field must keep it as typed.
PLAIN_MIX = "<script>alert(1)</script>' OR 1=1 -- {{7*7}} 🧑🏽🇺🇸 مرحبا Nguyễn"
TEXT_CORPUS = ("ok\x00nul", _long("ü€", 10_001), b"caf\xc3\x28 \xff", HOSTILE_MIX, PLAIN_MIX)
CORPUS = {
    "date": ("9999-12-31", "0001-01-01"),
    "datetime-local": ("9999-12-31T23:59", "0001-01-01T00:00"),
    "time": ("24:00",),
    "number": ("1e309", "-99999999999999999999"),
}
CHOICE_CORPUS = (HOSTILE_MIX + "\x00" + "x" * 300,)


def corpus(control: Control) -> tuple:
    """The fixed values for one control; a text field with a maximum also gets a value of
    exactly that length (which both databases must keep) and one character more."""
    if control.kind in TEXT_INPUTS or control.kind == "file":
        limit = control.maxlength
        at_limit = (_long("Ünïcødé-", limit), _long("Ünïcødé-", limit + 1)) if limit else ()
        return TEXT_CORPUS + at_limit
    return CORPUS.get(control.kind, CHOICE_CORPUS)


# Hypothesis examples per form: two more than it has fields, at most ten (see the docstring).
DEEP = int(os.environ.get("CASEMGR_FUZZ_EXAMPLES", "0"))
PROFILE = settings(
    max_examples=10,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: the records change as it runs
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


def shown(value: str | bytes | None) -> str:
    text = repr(value)
    return text if len(text) <= 120 else f"{text[:100]}... ({len(value)} long)"


# ---------------------------------------------------------------------------------------------
# What is checked

SAVED = (302, 303)
REFUSED = (200, 400, 409, 413, 422, 429)
VERBATIM = TEXT_INPUTS - {"password"}  # kinds of control whose text is stored as typed


def check(runner: Runner, name: str | None, value: str | bytes | None) -> None:
    """One POST: never a 500; a save keeps the text exactly (or trimmed) and nothing a
    PostgreSQL column would refuse; a refusal writes no row and says why."""
    what = f"{runner.key}: {name}={shown(value)}"
    form = runner.form()
    kind = form.kind_of(name) if name else ""
    before = row_counts()
    strings_before = Counter(s[:2] + s[3:] for s in stored_strings()) if runner.spec.exact else None
    NUL_QUERIES.clear()
    try:
        resp = runner.submit(name, value)
    except Exception as exc:  # PROPAGATE_EXCEPTIONS: the 500 shows as the exception
        db.session.rollback()
        raise Failure(f"{what}: a 500 ({type(exc).__name__}: {exc})"[:2000]) from exc
    status = resp.status_code
    assert status < 500, f"{what}: {status}"
    assert not NUL_QUERIES, f"{what}: NUL sent to the database in {NUL_QUERIES[0][:300]}"
    if status in SAVED or resp.mimetype != "text/html":
        runner.saves += 1
        location = resp.headers.get("Location", "")
        assert not location.startswith("/login") or runner.endpoint.startswith("auth."), (
            f"{what}: signed out ({location})"
        )
        db.session.expire_all()
        for table, column, length, text in stored_strings():
            assert "\x00" not in text, f"{what}: NUL stored in {table}.{column}"
            assert length is None or len(text) <= length, (
                f"{what}: {len(text)} characters stored in {table}.{column} ({length} on "
                "PostgreSQL)"
            )
        if isinstance(value, bytes) and kind in VERBATIM:
            raise Failure(f"{what}: invalid UTF-8 was saved")
        if (
            runner.spec.stores
            and kind in VERBATIM
            and name not in runner.spec.kept_if
            and isinstance(value, str)
            and value.strip()
        ):
            wanted = {value, value.strip()}
            if strings_before is None:
                found = any(text in wanted for *_, text in stored_strings())
            else:  # written now, or there already (a value the record had: nothing to tell)
                after = Counter(s[:2] + s[3:] for s in stored_strings())
                found = any(text in wanted for *_, text in after - strings_before) or any(
                    text in wanted for *_, text in strings_before
                )
            assert found, f"{what}: saved, but the text is not stored as sent"
        runner.used()
    else:
        runner.refusals += 1
        assert status in REFUSED, f"{what}: {status}"
        after = row_counts()
        changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
        assert not changed, f"{what}: refused ({status}) but rows changed: {changed}"
        if status != 413 and kind != "hidden" and not runner.spec.reads:
            assert errors_in(resp.text), f"{what}: refused ({status}) without a message"


def errors_in(html: str) -> list[str]:
    return re.findall(
        r'class="(?:error|flash flash-error|flash flash-warning|form-errors)"[^>]*>(.*?)</',
        html,
        re.S,
    )


# ---------------------------------------------------------------------------------------------
# The tests


def test_every_post_route_has_a_spec(app):
    assert {endpoint_of(k) for k in SPECS} == discovered_post_endpoints(app)


@pytest.mark.parametrize("key", sorted(SPECS))
def test_hostile_text_in_every_field(fuzz_app, key):
    kind = CsvRunner if key == "transfer.import_confirm" else Runner
    runner = kind(fuzz_app, World(), key, SPECS[key])
    fields = runner.fields()
    if not fields:  # a button: only its token; hostile bytes in a stray field change nothing
        check(runner, None, None)
        return
    for name in fields:
        for value in corpus(runner.form().control(name)):
            check(runner, name, value)

    @settings(PROFILE, max_examples=DEEP or min(10, 2 + len(fields)))
    @given(name=st.sampled_from(fields), value=TEXT)
    def explore(name, value):
        check(runner, name, value)

    explore()
    print(f"{key}: {len(fields)} fields, {runner.saves} saves, {runner.refusals} refusals")


def _post_encoded(runner: Runner, name: str, raw: bytes, *, escape: bool):
    """POST the form url-encoded with `raw` as the value of `name`: as bytes on the wire, or
    percent-escaped (%C3%28), as a client that encodes bytes rather than text would send it."""
    from urllib.parse import quote_from_bytes, urlencode

    data = runner.baseline(runner.form())
    data[name] = "FUZZ-PLACEHOLDER"
    pairs = [(k, v) for k, vs in data.items() for v in (vs if isinstance(vs, list) else [vs])]
    value = quote_from_bytes(raw).encode() if escape else raw
    body = urlencode(pairs).encode().replace(b"FUZZ-PLACEHOLDER", value)
    return runner.client.post(
        runner.form().action, data=body, content_type="application/x-www-form-urlencoded"
    )


INVALID_FORMS = [("clients.edit", "legal_first_name"), ("notes.edit", "section_data")]


@pytest.mark.parametrize(("key", "name"), INVALID_FORMS)
def test_a_body_that_is_not_utf8_is_refused_and_saves_nothing(fuzz_app, key, name):
    runner = Runner(fuzz_app, World(), key, SPECS[key])
    resp = _post_encoded(runner, name, b"zqj\xc3\x28 \xff", escape=False)
    assert resp.status_code == 400  # the body cannot be read: no token, no fields
    db.session.expire_all()
    assert not any("zqj" in text for *_, text in stored_strings())


@pytest.mark.parametrize(("key", "name"), INVALID_FORMS)
def test_percent_escaped_bytes_that_are_not_utf8_are_refused(fuzz_app, key, name):
    runner = Runner(fuzz_app, World(), key, SPECS[key])
    resp = _post_encoded(runner, name, b"zqj\xc3\x28 \xff", escape=True)
    assert resp.status_code < 500
    db.session.expire_all()
    assert resp.status_code == 400  # refused before the view: not saved as "zqj%C3( %FF"
    assert not any("zqj" in text for *_, text in stored_strings())
