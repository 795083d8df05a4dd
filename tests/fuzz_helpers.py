"""Pieces of the form fuzzer (tests/test_fuzz_forms.py): reading the forms off a page with the
standard library's HTML parser, and counting and reading rows to check what a POST wrote."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, time
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import sqlalchemy as sa

from casemgr.domain import consent as rules
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.episodes import services as episodes
from casemgr.extensions import db
from casemgr.groups import services as groups
from casemgr.groups.models import Group
from casemgr.notes import services as notes
from casemgr.privacy import consents, emergency, restrictions
from tests.aftercare.helpers import check_ins
from tests.ccplan.helpers import draft_plan as draft_care_plan
from tests.clients_helpers import NOW, TODAY, admitted
from tests.factories import PASSWORD, Factories
from tests.groups.helpers import sweep_rows
from tests.mar.helpers import TZ
from tests.mar.helpers import order as mar_order
from tests.notes.helpers import session_with_note
from tests.plans.helpers import draft_plan
from tests.plans.helpers import sign as sign_plan
from tests.printing.helpers import print_report

# Rows these tables gain on any request (the audit trail, sessions, throttling counters).
BOOKKEEPING = frozenset({"audit_events", "audit_chain_head", "user_sessions", "throttles"})
TEXT_INPUTS = frozenset({"text", "search", "email", "tel", "url", "password", "textarea"})


@dataclass
class Control:
    """One named control of a form, as a browser would submit it."""

    name: str
    kind: str  # an <input> type, or "select", "select-multiple", "textarea", "submit"
    value: str = ""
    checked: bool = False
    options: list[tuple[str, bool]] = field(default_factory=list)  # (value, selected)
    maxlength: int | None = None  # WTForms renders a Length(max=...) as maxlength


@dataclass
class Form:
    action: str  # absolute path, with its query string
    method: str
    enctype: str
    controls: list[Control] = field(default_factory=list)

    @property
    def path(self) -> str:
        return urlsplit(self.action).path

    def names(self) -> list[str]:
        seen: dict[str, None] = {}
        for c in self.controls:
            seen.setdefault(c.name, None)
        return list(seen)

    def control(self, name: str) -> Control:
        return next(c for c in self.controls if c.name == name)

    def kind_of(self, name: str) -> str:
        return self.control(name).kind

    def defaults(self) -> dict[str, str | list[str]]:
        """What submitting the form untouched sends, except that a select left on its empty
        choice sends its first non-empty option and only the first named submit button is
        pressed."""
        data: dict[str, list[str]] = {}
        pressed = False
        radios: dict[str, list[Control]] = {}
        for c in self.controls:
            if c.kind == "submit":
                if not pressed:
                    data.setdefault(c.name, []).append(c.value)
                    pressed = True
            elif c.kind in ("checkbox",):
                if c.checked:
                    data.setdefault(c.name, []).append(c.value or "on")
            elif c.kind == "radio":
                radios.setdefault(c.name, []).append(c)
            elif c.kind == "select":
                chosen = [v for v, sel in c.options if sel and v]
                if not chosen:
                    chosen = [v for v, _ in c.options if v][:1] or [v for v, _ in c.options][:1]
                data[c.name] = chosen[:1]
            elif c.kind == "select-multiple":
                data[c.name] = [v for v, sel in c.options if sel]
            elif c.kind == "file":
                continue
            else:
                data.setdefault(c.name, []).append(c.value)
        for name, group in radios.items():
            chosen = [c for c in group if c.checked] or group[:1]
            data[name] = [chosen[0].value]
        return {k: v[0] if len(v) == 1 else v for k, v in data.items()}


class FormParser(HTMLParser):
    def __init__(self, page_url: str):
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: Control | None = None
        self._option: list | None = None  # [value or None, selected, text]
        self._textarea: Control | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            action = urljoin(self.page_url, a.get("action") or self.page_url)
            parts = urlsplit(action)
            self._form = Form(
                action=parts.path + (f"?{parts.query}" if parts.query else ""),
                method=a.get("method", "get").lower(),
                enctype=a.get("enctype", "application/x-www-form-urlencoded"),
            )
            self.forms.append(self._form)
        if self._form is None or ("disabled" in a and tag != "form"):
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            if kind in ("submit", "image", "button", "reset"):
                if kind == "submit":
                    self._form.controls.append(Control(name, "submit", a.get("value", "")))
                return
            self._form.controls.append(
                Control(
                    name,
                    kind,
                    a.get("value", "on" if kind == "checkbox" else ""),
                    checked="checked" in a,
                    maxlength=_int(a.get("maxlength")),
                )
            )
        elif tag == "button" and name and a.get("type", "submit").lower() == "submit":
            self._form.controls.append(Control(name, "submit", a.get("value", "")))
        elif tag == "select" and name:
            self._select = Control(name, "select-multiple" if "multiple" in a else "select")
            self._form.controls.append(self._select)
        elif tag == "option" and self._select is not None:
            self._option = [a.get("value"), "selected" in a, ""]
        elif tag == "textarea" and name:
            self._textarea = Control(name, "textarea", maxlength=_int(a.get("maxlength")))
            self._form.controls.append(self._textarea)

    def handle_data(self, data):
        if self._option is not None:
            self._option[2] += data
        if self._textarea is not None:
            self._textarea.value += data

    def _close_option(self):
        if self._option is not None and self._select is not None:
            value, selected, text = self._option
            self._select.options.append((text.strip() if value is None else value, selected))
        self._option = None

    def handle_endtag(self, tag):
        if tag in ("option", "select"):
            self._close_option()
        if tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            # HTML drops one line break right after <textarea>.
            value = self._textarea.value
            self._textarea.value = (
                value[2:] if value.startswith("\r\n") else value.removeprefix("\n")
            )
            self._textarea = None
        elif tag == "form":
            self._form = None


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def forms_on(html: str, page_url: str) -> list[Form]:
    parser = FormParser(page_url)
    parser.feed(html)
    parser.close()
    return parser.forms


# ---------------------------------------------------------------------------------------------
# The database, to check what a POST wrote


def tables() -> list[sa.Table]:
    return [t for t in db.metadata.sorted_tables if t.name not in BOOKKEEPING]


def row_counts() -> dict[str, int]:
    """Rows in every table but the bookkeeping ones, in one query."""
    sql = " UNION ALL ".join(f"SELECT '{t.name}', COUNT(*) FROM \"{t.name}\"" for t in tables())
    return dict(db.session.execute(sa.text(sql)).all())


def text_columns(table: sa.Table) -> list[sa.Column]:
    return [c for c in table.columns if isinstance(c.type, sa.String | sa.JSON)]


def stored_strings():
    """Every string stored in a text or JSON column, and each string inside stored JSON:
    (table, column, declared length or None, value). One query for the whole database."""
    parts, lengths = [], {}
    for table in tables():
        for col in text_columns(table):
            lengths[table.name, col.name] = getattr(col.type, "length", None)
            parts.append(
                f"SELECT '{table.name}', '{col.name}', CAST(\"{col.name}\" AS TEXT)"
                f' FROM "{table.name}" WHERE "{col.name}" IS NOT NULL'
            )
    rows = db.session.execute(sa.text(" UNION ALL ".join(parts))).all()
    for table, column, value in rows:
        yield table, column, lengths[table, column], value
        if value.startswith(("{", "[")):
            try:  # JSON, in a JSON column or kept in a text one (a note's sections)
                decoded = json.loads(value)
            except ValueError:
                continue
            for text in _strings(decoded):
                yield table, column, None, text


def _strings(value):
    """The strings inside decoded JSON."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


# ---------------------------------------------------------------------------------------------
# The records each route needs, made on first use (through the services, as the other tests do)


class World:
    """Staff in every role and, on first use, the records a route family works on. `forget`
    drops one, so the next use makes a fresh one (after a POST used it up: a signed note, a
    discharged episode)."""

    def __init__(self):
        self.make = Factories()
        self._cache: dict[str, object] = {}
        self.manager = self.make.user(Role.CLINIC_MANAGER, full_name="Morgan Manager")
        self.counselor = self.make.user(Role.COUNSELOR, full_name="Casey Counselor")
        self.nurse = self.make.user(Role.NURSE, full_name="Nora Nurse")
        self.physician = self.make.user(Role.PHYSICIAN, full_name="Pat Physician")
        self.supervisor = self.make.user(Role.SUPERVISOR, full_name="Sam Supervisor")
        self.admin = self.make.user(Role.ADMIN, full_name="Ada Admin")
        db.session.commit()

    def __getattr__(self, name: str):
        if name.startswith("_") or not hasattr(type(self), f"_make_{name}"):
            raise AttributeError(name)
        if name not in self._cache:
            self._cache[name] = getattr(self, f"_make_{name}")()
            db.session.commit()
        return self._cache[name]

    def need(self, *names: str) -> None:
        """Make these records now (a page lists them)."""
        for name in names:
            getattr(self, name)

    def forget(self, *names: str) -> None:
        for name in names:
            self._cache.pop(name, None)

    # Episodes, each of its own client, with the counselor as primary counselor.
    def _episode(self, phase: Phase, **face_sheet):
        return admitted(self.manager, self.counselor, phase, **face_sheet)[1]

    def _make_intake(self):
        return self._episode(Phase.INTAKE)

    def _make_detox(self):
        return self._episode(Phase.DETOX, legal_first_name="Dez")

    def _make_rehab(self):
        return self._episode(Phase.REHAB, legal_first_name="Remy")

    def _make_aftercare(self):
        return self._episode(Phase.AFTERCARE, legal_first_name="Ari")

    def _make_discharged(self):
        episode = self._episode(Phase.REHAB, legal_first_name="Dell")
        episodes.discharge(
            db.session,
            episode,
            episodes.DischargeDetails(
                last_contact_on=TODAY,
                discharged_on=TODAY,
                reason_code="1",
                use_frequency="1",
                employment="full_time",
                living_arrangement="independent",
                arrests_30d=0,
                self_help="1",
            ),
            actor=self.manager,
            now=NOW,
            today=TODAY,
        )
        return episode

    # Notes
    def _make_draft_note(self):
        return session_with_note(self.rehab, self.counselor)[1]

    def _make_signed_note(self):
        note = session_with_note(self.rehab, self.counselor, day=TODAY)[1]
        notes.sign(db.session, note, PASSWORD, actor=self.counselor, now=NOW)
        return note

    def _make_trainee(self):
        return self.make.user(Role.COUNSELOR, full_name="Tia Trainee", needs_supervision=True)

    def _make_awaiting_cosign(self):
        episode = admitted(self.manager, self.trainee, Phase.REHAB, legal_first_name="Tess")[1]
        note = session_with_note(episode, self.trainee)[1]
        notes.sign(db.session, note, PASSWORD, actor=self.trainee, now=NOW)
        return note

    # Treatment plans
    def _make_plan(self):
        return draft_plan(self.rehab, self.counselor)

    def _make_signed_plan(self):
        return sign_plan(draft_plan(self.rehab, self.counselor), self.counselor)

    # Medication
    def _make_order(self):
        return mar_order(self.detox, self.nurse, ordered_by_id=self.physician.id)

    # Records to void (entered in error), each by the person who recorded it
    def _make_assessment(self):
        from tests.detox.helpers import assessed

        return assessed(self.detox, self.nurse)

    def _make_dose(self):
        from tests.mar.helpers import recorded

        placed = mar_order(self.detox, self.physician, times="06:00")
        return recorded(placed, self.nurse, hour=6, witness=self.physician)

    def _make_screen(self):
        from tests.screens.helpers import recorded

        return recorded(self.rehab, self.counselor)

    def _make_recorded_check_in(self):
        """The aftercare client's last check-in of the year, recorded (the open one stays)."""
        from tests.aftercare.helpers import recorded_check_in

        return recorded_check_in(check_ins(self.aftercare)[-1], self.counselor)

    def _make_relapse(self):
        from tests.aftercare.helpers import relapsed

        return relapsed(self.aftercare, self.counselor, date(2026, 11, 20))

    # Aftercare
    def _make_check_in(self):
        """The aftercare client's next check-in still open and not yet due (a missed one can
        only be recorded, not moved)."""
        return next(
            c for c in check_ins(self.aftercare) if c.status == "open" and c.due_on >= TODAY
        )

    def _make_ccplan(self):
        return draft_care_plan(self.aftercare, self.counselor)

    # Groups: a group the counselor facilitates, the rehab client enrolled, one meeting.
    def _make_group_rows(self):
        return sweep_rows(self.rehab)

    def _make_meeting(self):
        """A meeting the counselor recorded, with a draft note for the rehab client."""
        group = db.session.get(Group, self.group_rows["group_id"])
        details = groups.MeetingDetails(
            meeting_date=date(2026, 11, 24),
            start_time=time(13, 0),
            end_time=time(14, 0),
            topic="Refusal skills",
            seats=(groups.SeatEntry(self.rehab.id, "attended", participation="Engaged"),),
        )
        return groups.record_meeting(
            db.session, group, details, facilitator=self.counselor, now=NOW, today=TODAY, tz=TZ
        )

    # Consents
    def _make_consent(self):
        terms = rules.Terms(
            kind=rules.GENERAL,
            discloser="Test Recovery Center",
            information=frozenset(rules.PROGRESS_REPORT),
            information_detail="Records from admission to the date of release.",
            recipient_kind=rules.NAMED,
            recipient_name="Judge Ana Ortiz",
            recipient_organisation="County Drug Court",
            purpose="Drug court compliance review",
            expiry_kind=rules.BY_DATE,
            expires_on=date(2027, 5, 20),
            expiry_event="",
            revocation_statement=rules.DEFAULT_REVOCATION_STATEMENT,
            signed_by=rules.CLIENT,
        )
        signing = rules.Signing(rules.APP, TODAY, False, "Remy Rivers")
        return consents.record_consent(
            db.session,
            self.rehab.client,
            terms,
            signing,
            scan=None,
            by=self.manager,
            today=TODAY,
            instance_path="unused",
        )

    # Admin
    def _make_target(self):
        return self.make.user(Role.NURSE, full_name="Tara Target")

    def _make_outsider(self):
        """A counselor who is not on any of these clients' care: breaks the glass."""
        return self.make.user(Role.COUNSELOR, full_name="Otto Outsider")

    # Printing
    def _make_printed(self):
        return print_report("progress", self.rehab.client, self.manager, period=(None, None))[0]

    # Break-glass and restrictions
    def _make_broken_glass(self):
        return emergency.open_access(
            db.session,
            self.intake.client,
            self.outsider,
            emergency.Emergency("Dr. Lee", "General Hospital ED", "Unresponsive on arrival", NOW),
            now=NOW,
        )

    def _make_restriction(self):
        return restrictions.restrict(
            db.session, self.rehab.client, self.outsider, "A relative", by=self.manager, now=NOW
        )
