from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DateTimeLocalField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
    ValidationError,
)

from ..auth.models import User
from ..choices import choices
from ..domain import codes
from ..domain.care import CODE_SYSTEMS, DEFAULT_CODE_SYSTEM, Setting
from ..domain.phases import Phase, next_phases, ordered
from ..forms import VersionField, no_control_chars, plausible_time
from ..sites.models import Site
from ..timefmt import today as facility_today
from .services import SITE_REASON_MAX, DischargeDetails

WHEN = "%Y-%m-%dT%H:%M"


class PhaseMoveForm(FlaskForm):
    target = SelectField("Move to")
    effective_at = DateTimeLocalField(
        "When",
        format=WHEN,
        validators=[DataRequired(message="Enter a date and time."), plausible_time],
    )
    reason = TextAreaField("Reason", validators=[DataRequired(), Length(max=500), no_control_chars])
    backdate_reason = StringField(
        "Why recorded late",
        validators=[Optional(), Length(max=500), no_control_chars],
        description="Needed when the move happened more than an hour ago.",
    )

    def __init__(self, current: Phase, **kwargs):
        super().__init__(**kwargs)
        # Offer only legal moves in treatment order; the service re-checks on submit.
        allowed = next_phases(current) - {Phase.DISCHARGED}
        self.target.choices = [SelectChoice(p.value, p.label) for p in ordered(allowed)]

    @property
    def target_phase(self) -> Phase:
        return Phase(self.target.data)


class DischargeForm(FlaskForm):
    reason_code = SelectField(
        "Reason for discharge (TEDS)",
        choices=choices(codes.DISCHARGE_REASONS, blank="— choose —"),
        validators=[DataRequired(message="Choose a reason.")],
    )
    discharged_on = DateField(
        "Discharge date",
        validators=[DataRequired(message="Enter a valid date.")],
        default=facility_today,
    )
    last_contact_on = DateField(
        "Date of last contact",
        validators=[DataRequired(message="Enter a valid date.")],
        default=facility_today,
    )
    left_at = DateTimeLocalField(
        "Time the client left",
        format=WHEN,
        validators=[Optional(), plausible_time],
        description="Required when a client leaves detox against advice.",
    )
    use_frequency = SelectField(
        "Primary substance use, last 30 days", choices=choices(codes.FREQUENCIES)
    )
    employment = SelectField("Employment at discharge", choices=choices(codes.EMPLOYMENT))
    living_arrangement = SelectField(
        "Living arrangement at discharge", choices=choices(codes.LIVING_ARRANGEMENTS)
    )
    arrests_30d = IntegerField(
        "Arrests in the last 30 days", validators=[Optional(), NumberRange(0, 99)], default=0
    )
    self_help = SelectField("Self-help attendance, last 30 days", choices=choices(codes.SELF_HELP))
    note = TextAreaField(
        "Discharge note", validators=[Optional(), Length(max=1000), no_control_chars]
    )

    def details(self, from_local) -> DischargeDetails:
        return DischargeDetails(
            last_contact_on=self.last_contact_on.data,
            discharged_on=self.discharged_on.data,
            reason_code=self.reason_code.data,
            use_frequency=self.use_frequency.data,
            employment=self.employment.data,
            living_arrangement=self.living_arrangement.data,
            arrests_30d=self.arrests_30d.data or 0,
            self_help=self.self_help.data,
            note=self.note.data or "",
            left_at=from_local(self.left_at.data) if self.left_at.data else None,
        )


class LevelOfCareForm(FlaskForm):
    setting = SelectField("Setting", choices=[SelectChoice(s.value, s.label) for s in Setting])
    code = SelectField("ASAM level")
    started_on = DateField(
        "From", validators=[DataRequired(message="Enter a valid date.")], default=facility_today
    )

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        system = CODE_SYSTEMS[DEFAULT_CODE_SYSTEM]
        self.code_system = system.key
        self.code.choices = [
            SelectChoice(code, f"{code} — {name}") for code, name in system.codes.items()
        ]


class AssignForm(FlaskForm):
    counselor = SelectField("Primary counselor", coerce=int)
    reason = StringField(
        "Reason",
        validators=[Optional(), Length(max=300), no_control_chars],
        description="e.g. caseload balancing, client request",
    )
    version = VersionField()


def _offered_site(form, field) -> None:
    if not field.data:
        raise StopValidation("Choose the site where the client is treated.")
    if field.data not in form.sites:
        raise ValidationError("Choose a site from the list.")


def _site_select(label: str) -> SelectField:
    return SelectField(label, default="", validate_choice=False, validators=[_offered_site])


class SiteChoice:
    """The "Site" select of a form that places an episode at one of the network's sites. On an
    install with no open site the field is removed and the episode gets no site."""

    site = _site_select("Site")
    sites: dict[str, Site] = {}

    def offer_sites(self, sites: list[Site], *defaults: Site | None) -> None:
        """Offer `sites` (the view passes the open ones), preselecting the first of `defaults`
        that is offered; none is preselected otherwise, so the choice is made on purpose."""
        if not sites:
            del self.site
            return
        self.sites = {str(s.id): s for s in sites}
        self.site.choices = [
            SelectChoice("", "— choose —"),
            *(SelectChoice(key, s.name) for key, s in self.sites.items()),
        ]
        offered = [str(s.id) for s in defaults if s is not None and str(s.id) in self.sites]
        if not self.is_submitted() and offered:
            self.site.data = offered[0]

    @property
    def chosen_site(self) -> Site | None:
        return self.sites.get(self.site.data) if self.site else None


class SiteTransferForm(SiteChoice, FlaskForm):
    site = _site_select("Move to site")
    # Any offered counselor; whether they work at the site chosen is the service's rule.
    counselor = SelectField(
        "Primary counselor",
        default="",
        description="A counselor of the new site takes the client on; or keep the current one.",
        # app.js offers only the chosen site's counselors (and the network-wide ones).
        render_kw={"data-filter-by": "site"},
    )
    # Shape only; required and the minimum length are the service's.
    reason = TextAreaField(
        "Reason",
        validators=[Length(max=SITE_REASON_MAX), no_control_chars],
        description="Required, e.g. “continues in residential rehab at the other site”.",
    )
    version = VersionField()
    counselors: dict[str, User] = {}

    def offer_counselors(self, people: list[User], current: User | None) -> None:
        """Keeping the current counselor comes first (the default); then every active
        counselor, grouped by the site they work at, the network-wide ones first."""
        self.counselors = {str(u.id): u for u in people if current is None or u.id != current.id}
        keep = f"Keep {current.display_name}" if current else "— none assigned —"
        by_site = sorted(self.counselors.items(), key=lambda item: _site_order(item[1]))
        self.counselor.choices = [
            SelectChoice("", keep),
            *(_counselor_choice(key, u) for key, u in by_site),
        ]

    @property
    def chosen_counselor(self) -> User | None:
        return self.counselors.get(self.counselor.data or "")


NETWORK_WIDE = "Any site (works network-wide)"


def _site_order(person: User) -> tuple[bool, str]:
    return (person.site is not None, person.site.name if person.site else "")


def _counselor_choice(key: str, person: User) -> SelectChoice:
    return SelectChoice(
        key,
        person.display_name,
        optgroup=person.site.name if person.site else NETWORK_WIDE,
        render_kw={"data-site": str(person.site_id or "")},
    )


class ReadmitForm(SiteChoice, FlaskForm):
    admitted_on = DateField(
        "Admission date",
        validators=[DataRequired(message="Enter a valid date.")],
        default=facility_today,
    )
    counselor = SelectField("Primary counselor", coerce=int)


def counselor_choices(people) -> list[SelectChoice]:
    return [SelectChoice(u.id, u.display_name) for u in people]
