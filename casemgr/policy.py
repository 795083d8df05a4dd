"""Who may do what. The only place where roles are mapped to permissions.

Deny by default: a user is refused unless active, signed in, holding a role that grants
the permission, and passing any object rule that permission has.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import cache, wraps
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import Flask, abort, current_app, flash, redirect, request, url_for
from flask_login import current_user

from .domain.redirects import safe_next
from .domain.roles import Role


class Perm(StrEnum):
    HOME_VIEW = "home.view"
    ACCOUNT_SELF = "account.self"  # change one's own password, see one's own sign-ins
    ROLE_HOME = "home.role"  # object rule: only the home pages of roles the user holds
    STAFF_ROSTER = "staff.roster"  # see who works here and who is signed in
    STAFF_MANAGE = "staff.manage"
    SETTINGS_MANAGE = "settings.manage"
    SITE_MANAGE = "site.manage"  # the network's sites (facilities); who works at which
    AUDIT_VIEW = "audit.view"
    CLIENT_VIEW = "client.view"  # scoped: see SCOPES
    CLIENT_REGISTER = "client.register"
    CLIENT_EDIT = "client.edit"
    EPISODE_MOVE = "episode.move"
    EPISODE_DISCHARGE = "episode.discharge"
    EPISODE_READMIT = "episode.readmit"
    EPISODE_SITE = "episode.site"  # transfer to another site; object rule: open, at one's site
    LEVEL_OF_CARE_SET = "episode.level_of_care"
    CASELOAD_ASSIGN = "caseload.assign"
    CLIENT_IMPORT = "client.import"
    CENSUS_VIEW = "census.view"
    NOTE_WRITE = "note.write"  # object rule: the episode is in the writer's care
    NOTE_SIGN = "note.sign"  # object rule: the note's author
    NOTE_ADDENDUM = "note.addendum"  # object rule: the note's author
    NOTE_COSIGN = "note.cosign"  # object rule: not the note's author
    PLAN_WRITE = "plan.write"  # object rule: the episode's primary counselor
    SCREEN_WRITE = "screen.write"  # object rule: the episode is in the collector's care
    GROUP_MANAGE = "group.manage"  # define groups and enrol clients
    GROUP_RUN = "group.run"  # record a meeting; object rule: a facilitator of the group
    ASSESSMENT_WRITE = "detox.assess"  # object rule: the episode is open and in detox
    CLEARANCE_WRITE = "detox.clear"  # object rule: the episode is open and in detox
    DETOX_BOARD = "detox.board"  # every client in detox, for the shift
    MED_ORDER = "mar.order"  # object rule: the episode is open (a nurse enters verbal orders)
    MED_PRESCRIBE = "mar.prescribe"  # order in one's own name (others enter verbal orders)
    MED_DISCONTINUE = "mar.discontinue"  # object rule: the order is current
    MED_COSIGN = "mar.cosign"  # object rule: the verbal order names the user as prescriber
    MED_GIVE = "mar.give"  # object rule: the episode is open
    AFTERCARE_WRITE = "aftercare.write"  # object rule: open episode, primary counselor
    OUTCOMES_VIEW = "outcomes.view"  # the clinic's aggregate outcome figures
    REPORT_CLIENT = "report.client"  # object rule: managers; counselors for their caseload
    REPORT_FACILITY = "report.facility"  # census, caseload and outcomes reports
    REPORT_BATCH = "report.batch"  # print many clients at once
    REPORT_LOG = "report.log"  # what was printed, and re-checking its hash
    CONSENT_MANAGE = "consent.manage"  # record, revoke; object rule: the client's care team
    DISCLOSE = "record.disclose"  # release outside the facility; object rule as CONSENT_MANAGE
    EMERGENCY_ACCESS = "chart.emergency"  # break-glass; object rule: not restricted from it
    EMERGENCY_REVIEW = "chart.emergency_review"  # see and acknowledge break-glass alerts
    CLIENT_RESTRICT = "client.restrict"  # name staff who must never see a chart
    RECORD_VOID = "record.void"  # object rule: casemgr.domain.voiding.may_void


_EVERY_STAFF = frozenset({Perm.HOME_VIEW, Perm.ROLE_HOME, Perm.ACCOUNT_SELF})

_CHART_WORK = frozenset(
    {Perm.CLIENT_VIEW, Perm.EPISODE_MOVE, Perm.EPISODE_DISCHARGE, Perm.LEVEL_OF_CARE_SET}
)
_DOCUMENTING = frozenset({Perm.NOTE_WRITE, Perm.NOTE_SIGN, Perm.NOTE_ADDENDUM, Perm.SCREEN_WRITE})
_DETOX_WORK = frozenset(
    {
        Perm.RECORD_VOID,
        Perm.ASSESSMENT_WRITE,
        Perm.CLEARANCE_WRITE,
        Perm.DETOX_BOARD,
        Perm.MED_ORDER,
        Perm.MED_GIVE,
    }
)

# Administrators run the system but do not read clinical records (separation of duties).
GRANTS: dict[Role, frozenset[Perm]] = {
    Role.ADMIN: _EVERY_STAFF
    | {
        Perm.STAFF_ROSTER,
        Perm.STAFF_MANAGE,
        Perm.SETTINGS_MANAGE,
        Perm.SITE_MANAGE,
        Perm.AUDIT_VIEW,
    },
    Role.CLINIC_MANAGER: _EVERY_STAFF
    | _CHART_WORK
    | {
        Perm.STAFF_ROSTER,
        Perm.AUDIT_VIEW,
        Perm.CLIENT_REGISTER,
        Perm.CLIENT_EDIT,
        Perm.EPISODE_READMIT,
        Perm.EPISODE_SITE,  # moving a client between the network's facilities
        Perm.CASELOAD_ASSIGN,
        Perm.CLIENT_IMPORT,
        Perm.CENSUS_VIEW,
        Perm.GROUP_MANAGE,  # scheduling groups is administration, not clinical writing
        Perm.DETOX_BOARD,  # read-only: the manager sees the unit, records nothing on it
        Perm.OUTCOMES_VIEW,
        Perm.REPORT_CLIENT,
        Perm.REPORT_FACILITY,
        Perm.REPORT_BATCH,
        Perm.REPORT_LOG,
        Perm.CONSENT_MANAGE,
        Perm.DISCLOSE,
        Perm.EMERGENCY_REVIEW,
        Perm.CLIENT_RESTRICT,
        Perm.RECORD_VOID,  # correcting the chart (entered in error), not clinical writing
    },
    Role.COUNSELOR: _EVERY_STAFF
    | _CHART_WORK
    | _DOCUMENTING
    | {
        Perm.CLIENT_REGISTER,
        Perm.CLIENT_EDIT,
        Perm.EPISODE_READMIT,
        Perm.PLAN_WRITE,
        Perm.GROUP_MANAGE,
        Perm.GROUP_RUN,
        Perm.AFTERCARE_WRITE,
        Perm.RECORD_VOID,
        Perm.REPORT_CLIENT,
        Perm.CONSENT_MANAGE,
        Perm.DISCLOSE,
        Perm.EMERGENCY_ACCESS,
    },
    Role.NURSE: _EVERY_STAFF | _CHART_WORK | _DOCUMENTING | _DETOX_WORK | {Perm.EMERGENCY_ACCESS},
    Role.PHYSICIAN: _EVERY_STAFF
    | _CHART_WORK
    | _DOCUMENTING
    | _DETOX_WORK
    | {Perm.MED_PRESCRIBE, Perm.MED_COSIGN, Perm.MED_DISCONTINUE, Perm.EMERGENCY_ACCESS},
    Role.SUPERVISOR: _EVERY_STAFF | {Perm.CLIENT_VIEW, Perm.NOTE_COSIGN},
}


# Sites. A person with no site works across the network (and on an install without sites
# nobody has one), so every site rule lets them through.
def works_at(user: Any, site_id: Any) -> bool:
    """Whether an episode at `site_id` is at the user's site."""
    return user.site_id is None or site_id == user.site_id


# Who sees everyone at their site (everyone, when network-wide), and who the detox unit.
SITE_WIDE_ROLES = frozenset({Role.CLINIC_MANAGER, Role.SUPERVISOR})
DETOX_ROLES = frozenset({Role.NURSE, Role.PHYSICIAN})


def at_users_site(user: Any, site_column: Any) -> sa.ColumnElement[bool]:
    """Row filter: episodes at the user's site (all of them for network-wide staff). For the
    lists a site runs on: the detox board, the census, admissions and discharges."""
    return sa.true() if user.site_id is None else site_column == user.site_id


# Rules that also look at the record. A permission listed here is refused without a target.
def _in_care(user: Any, episode: Any) -> bool:
    """Who may act on an episode: managers at its site; its primary counselor; nurses and
    physicians at its site while it is in detox."""
    from .domain.phases import Phase

    roles = user.roles
    here = works_at(user, episode.site_id)
    return (
        (Role.CLINIC_MANAGER in roles and here)
        or (Role.COUNSELOR in roles and episode.primary_counselor_id == user.id)
        or (bool(roles & DETOX_ROLES) and episode.phase is Phase.DETOX and here)
    )


def _documents_for(user: Any, episode: Any) -> bool:
    """Counselors document for their own caseload; nurses and physicians for any client they
    can see (the caller loaded the client through the CLIENT_VIEW scope)."""
    roles = user.roles
    return bool(roles & DETOX_ROLES) or (
        Role.COUNSELOR in roles and episode.primary_counselor_id == user.id
    )


def _in_detox(user: Any, episode: Any) -> bool:
    """Open, in detox, and at the user's site (a nurse scores her own unit's clients)."""
    from .domain.phases import Phase

    return episode.is_open and episode.phase is Phase.DETOX and works_at(user, episode.site_id)


def _is_author(user: Any, note: Any) -> bool:
    return note.author_id == user.id


def _edits_client(user: Any, client: Any) -> bool:
    return Role.CLINIC_MANAGER in user.roles or any(
        e.is_open and e.primary_counselor_id == user.id for e in client.episodes
    )


# Voidable records: which kind each table is, and who recorded a row of it.
_VOIDABLE: dict[str, tuple[str, str]] = {
    "withdrawal_assessments": ("withdrawal_assessment", "nurse_id"),
    "drug_screens": ("drug_screen", "collector_id"),
    "medication_administrations": ("medication_administration", "nurse_id"),
    "check_ins": ("check_in", "recorded_by_id"),
    "relapse_events": ("relapse_event", "recorded_by_id"),
}


def void_kind(record: Any) -> Any:
    """The RecordKind of a voidable record (None for anything else)."""
    from .domain.voiding import RecordKind

    found = _VOIDABLE.get(getattr(record, "__tablename__", ""))
    return RecordKind(found[0]) if found else None


def _may_void(user: Any, record: Any) -> bool:
    """The person who recorded it, a clinic manager, a physician for assessments and doses
    (casemgr.domain.voiding). The caller loaded the record through the CLIENT_VIEW scope."""
    from .domain.voiding import may_void

    kind = void_kind(record)
    if kind is None:
        return False
    recorder = getattr(record, _VOIDABLE[record.__tablename__][1])
    return may_void(kind, user_id=user.id, roles=user.roles, recorded_by_id=recorder)


OBJECT_RULES: dict[Perm, Callable[[Any, Any], bool]] = {
    Perm.ROLE_HOME: lambda user, role: role in user.roles,
    Perm.EPISODE_MOVE: _in_care,
    Perm.EPISODE_DISCHARGE: _in_care,
    Perm.EPISODE_SITE: lambda user, episode: episode.is_open and works_at(user, episode.site_id),
    Perm.LEVEL_OF_CARE_SET: _in_care,
    Perm.CLIENT_EDIT: _edits_client,
    Perm.NOTE_WRITE: lambda user, episode: episode.is_open and _documents_for(user, episode),
    Perm.SCREEN_WRITE: lambda user, episode: episode.is_open and _documents_for(user, episode),
    Perm.ASSESSMENT_WRITE: _in_detox,
    Perm.CLEARANCE_WRITE: _in_detox,
    Perm.MED_ORDER: lambda user, episode: episode.is_open,
    Perm.MED_DISCONTINUE: lambda user, order: order.discontinued_at is None,
    Perm.MED_COSIGN: lambda user, order: order.awaiting_cosign and order.ordered_by_id == user.id,
    Perm.MED_GIVE: lambda user, episode: episode.is_open,
    Perm.NOTE_SIGN: _is_author,
    Perm.NOTE_ADDENDUM: _is_author,
    Perm.NOTE_COSIGN: lambda user, note: not _is_author(user, note),
    Perm.PLAN_WRITE: lambda user, episode: (
        episode.is_open and episode.primary_counselor_id == user.id
    ),
    Perm.AFTERCARE_WRITE: lambda user, episode: (
        episode.is_open and episode.primary_counselor_id == user.id
    ),
    Perm.CONSENT_MANAGE: lambda user, client: _edits_client(user, client),
    Perm.DISCLOSE: lambda user, client: _edits_client(user, client),
    Perm.REPORT_CLIENT: lambda user, client: (
        Role.CLINIC_MANAGER in user.roles
        or any(e.primary_counselor_id == user.id for e in client.episodes[-1:])
    ),
    Perm.GROUP_RUN: lambda user, group: any(f.id == user.id for f in group.facilitators),
    Perm.EMERGENCY_ACCESS: lambda user, client: not _restricted_from(user, client),
    Perm.RECORD_VOID: _may_void,
}


def note_formats_for(user: Any) -> list[str]:
    """Which note formats a person may write: counseling formats for counselors, nursing notes
    for nurses and physicians."""
    roles, formats = user.roles, []
    if Role.COUNSELOR in roles:
        formats += ["soap", "dap", "birp", "girp", "case_management"]
    if roles & DETOX_ROLES:
        formats += ["nursing"]
    return formats


# Row filters for list queries: which rows of a permission's subject a user may see.
# A permission without an entry means "all rows" for anyone the role table grants it to.
def _facilitated_clients(user: Any) -> sa.Select[Any]:
    """Clients currently enrolled in a group the user facilitates: they run the room."""
    from .episodes.models import Episode
    from .groups.models import GroupEnrollment, group_facilitators

    return (
        sa.select(Episode.client_id)
        .join(GroupEnrollment, GroupEnrollment.episode_id == Episode.id)
        .join(group_facilitators, group_facilitators.c.group_id == GroupEnrollment.group_id)
        .where(group_facilitators.c.user_id == user.id, GroupEnrollment.ended_on.is_(None))
    )


def _detox_and_documented(user: Any) -> list[sa.Select[Any]]:
    """Clients in detox now at the user's site, and those the user has documented for: moved,
    set a level of care, wrote a note, collected a drug screen or scored a withdrawal
    assessment; and clients of an open episode at the user's site with a medication order
    not discontinued (the MAR follows maintenance doses into rehab)."""
    from .detox.models import WithdrawalAssessment
    from .domain.phases import Phase
    from .episodes.models import Episode, LevelOfCareSpan, PhaseChange
    from .mar.models import MedicationOrder
    from .notes.models import ClinicalSession, Note
    from .screens.models import DrugScreen

    client = sa.select(Episode.client_id)
    return [
        client.where(_in_detox_here(user)),
        client.join(PhaseChange).where(PhaseChange.by_id == user.id),
        client.join(LevelOfCareSpan).where(LevelOfCareSpan.by_id == user.id),
        client.join(ClinicalSession).join(Note).where(Note.author_id == user.id),
        client.join(DrugScreen).where(DrugScreen.collector_id == user.id),
        client.join(WithdrawalAssessment).where(WithdrawalAssessment.nurse_id == user.id),
        client.join(MedicationOrder).where(
            MedicationOrder.discontinued_at.is_(None),
            Episode.phase != Phase.DISCHARGED,
            at_users_site(user, Episode.site_id),
        ),
        # A prescriber keeps sight of the clients they ordered for (co-signing, review).
        client.join(MedicationOrder).where(MedicationOrder.ordered_by_id == user.id),
    ]


def _in_detox_here(user: Any) -> sa.ColumnElement[bool]:
    """Episodes in detox at the user's site: the detox unit's first source of the chart
    scope, and the detox board's rows."""
    from .domain.phases import Phase
    from .episodes.models import Episode

    return sa.and_(Episode.phase == Phase.DETOX, at_users_site(user, Episode.site_id))


def _emergency_clients(user: Any) -> sa.Select[Any]:
    """Clients the user opened in a medical emergency (42 CFR §2.51), until the access ends
    or expires. `now` is a bound parameter, compared in the database."""
    from .orm import utcnow
    from .privacy.models import EmergencyAccess

    return sa.select(EmergencyAccess.client_id).where(
        EmergencyAccess.user_id == user.id,
        EmergencyAccess.ended_at.is_(None),
        EmergencyAccess.expires_at > utcnow(),
    )


def _restricted(user: Any, client_id: Any) -> sa.Exists:
    """A restriction names the user for this client (a relative, a colleague in treatment).
    NOT EXISTS rather than NOT IN: a list that outer-joins clients keeps its client-less rows."""
    from .privacy.models import ClientRestriction

    return sa.exists().where(
        ClientRestriction.user_id == user.id,
        ClientRestriction.client_id == client_id,
        ClientRestriction.lifted_at.is_(None),
    )


def unrestricted(user: Any, client_id: Any) -> sa.ColumnElement[bool]:
    """The restriction deny of the CLIENT_VIEW scope alone, for lists drawn for one person
    that are not otherwise scoped (facility reports, rendered again as their author saw
    them): rows of clients whose chart a restriction keeps from `user` are left out."""
    return ~_restricted(user, client_id)


def _restricted_from(user: Any, client: Any) -> bool:
    from .extensions import db

    return bool(db.session.scalar(sa.select(_restricted(user, client.id))))


def _site_client_ids(user: Any) -> sa.Select[Any]:
    from .episodes.models import Episode

    return sa.select(Episode.client_id).where(Episode.site_id == user.site_id)


def site_clients(user: Any) -> sa.ColumnElement[bool]:
    """Every client for network-wide staff; otherwise the clients with an episode, now or
    before, at the user's site (its history is the site's record too)."""
    from .clients.models import Client

    if user.site_id is None:
        return sa.true()
    return Client.id.in_(_site_client_ids(user))


def _client_scope(user: Any) -> sa.ColumnElement[bool]:
    """Which clients a user may see (42 CFR Part 2 "need to know"). Managers and clinical
    supervisors see everyone at their site (everyone, when they work network-wide); a
    counselor sees the clients whose episode they are primary counselor for (for a closed
    episode: were at discharge), so a reassignment takes effect on the next request, plus the
    members of groups they facilitate; nurses and physicians see clients in detox at their
    site and those they documented for (moves, levels of care, notes, screens). An open
    emergency access adds its client; a restriction naming the user removes its client
    whatever else allows it (deny wins).

    The sources are one `IN (... UNION ...)`: as an OR of several INs, PostgreSQL read every
    client in the network (a 10 ms sequential scan at 50,000 clients, in each list of a page)
    where the union lets it look the few clients up by key."""
    from .clients.models import Client
    from .episodes.models import Episode

    roles = user.roles
    if roles & SITE_WIDE_ROLES and user.site_id is None:
        return unrestricted(user, Client.id)
    sources: list[sa.Select[Any]] = []
    if roles & SITE_WIDE_ROLES:
        sources.append(_site_client_ids(user))
    if Role.COUNSELOR in roles:
        sources.append(sa.select(Episode.client_id).where(Episode.primary_counselor_id == user.id))
        sources.append(_facilitated_clients(user))
    if roles & DETOX_ROLES:
        sources.extend(_detox_and_documented(user))
    if any(Perm.EMERGENCY_ACCESS in GRANTS.get(role, ()) for role in roles):
        sources.append(_emergency_clients(user))
    if not sources:
        return sa.false()
    return sa.and_(Client.id.in_(sa.union(*sources)), unrestricted(user, Client.id))


SCOPES: dict[Perm, Callable[[Any], sa.ColumnElement[bool]]] = {
    Perm.CLIENT_VIEW: _client_scope,
}


def permissions_of(user: Any) -> frozenset[Perm]:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    return _granted(user.roles)


@cache  # a page asks a dozen times (the menu); there are few role combinations
def _granted(roles: frozenset[Role]) -> frozenset[Perm]:
    return frozenset().union(*(GRANTS.get(role, frozenset()) for role in roles))


def can(user: Any, perm: Perm, target: Any = None) -> bool:
    if perm not in permissions_of(user):
        return False
    rule = OBJECT_RULES.get(perm)
    return rule is None or (target is not None and rule(user, target))


def authorize(perm: Perm, target: Any = None) -> None:
    if not can(current_user, perm, target):
        abort(403)


def scoped(stmt: sa.Select[Any], perm: Perm, user: Any = None) -> sa.Select[Any]:
    """Restrict a list query to the rows `user` may see under `perm` (nothing if none)."""
    user = current_user if user is None else user
    if perm not in permissions_of(user):
        return stmt.where(sa.false())
    rule = SCOPES.get(perm)
    return stmt if rule is None else stmt.where(rule(user))


def scoped_detox_board(stmt: sa.Select[Any], user: Any = None) -> sa.Select[Any]:
    """`stmt` (over episodes joined to their clients) limited to the episodes in detox at the
    user's site that the user may see: the detox board's rows.

    Those rows are already inside the chart scope of nurses and physicians (their first
    source is exactly these episodes) and of managers and supervisors (every client with an
    episode at their site), so for them only the restriction deny is added: the rest of the
    scope (everything a nurse ever documented for, thousands of rows) was 8 of the board's
    12 ms of SQL at 50,000 clients. Anyone else gets the whole scope."""
    user = current_user if user is None else user
    stmt = stmt.where(_in_detox_here(user))
    return _scoped_unless_covered(stmt, user, DETOX_ROLES | SITE_WIDE_ROLES)


def scoped_own_notes(stmt: sa.Select[Any], user: Any = None) -> sa.Select[Any]:
    """`stmt` (over notes joined to their clients) limited to the notes the user wrote on
    clients they may see: their own drafts on a home page.

    A note the user wrote is itself a source of the chart scope of nurses and physicians
    (`_detox_and_documented`), so for them only the restriction deny is added: building the
    rest of that scope (every client they ever documented for, thousands of rows) was 7 of
    the nurse's home page's 8 ms of SQL at 50,000 clients. Anyone else gets the whole scope
    (a counselor's draft on a client since reassigned drops out)."""
    from .notes.models import Note

    user = current_user if user is None else user
    stmt = stmt.where(Note.author_id == user.id)
    return _scoped_unless_covered(stmt, user, DETOX_ROLES)


def _scoped_unless_covered(
    stmt: sa.Select[Any], user: Any, covering: frozenset[Role]
) -> sa.Select[Any]:
    """`stmt` under the chart scope; for a user holding one of the `covering` roles, whose
    scope already includes every row `stmt` can return, under the restriction deny alone
    (deny still wins)."""
    from .clients.models import Client

    if Perm.CLIENT_VIEW in permissions_of(user) and user.roles & covering:
        return stmt.where(unrestricted(user, Client.id))
    return scoped(stmt, Perm.CLIENT_VIEW, user)


F = TypeVar("F", bound=Callable[..., Any])


def requires(perm: Perm) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            # The role must grant the permission; a permission with an object rule is then
            # checked again by the view against the record it loads (authorize(perm, obj)).
            if perm not in permissions_of(current_user):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_perm = perm  # type: ignore[attr-defined]  # read by the route sweep test
        return wrapped  # type: ignore[return-value]

    return decorator


def public(view: F) -> F:
    view.is_public = True  # type: ignore[attr-defined]
    return view


# Endpoints a user who must change their password may still reach.
_PASSWORD_CHANGE_ALLOWED = {"auth.change_password", "auth.logout", "static"}


def _require_login() -> Any:
    if request.endpoint in (None, "static"):
        return None  # unknown URLs 404 for everyone; static files are public
    if getattr(current_app.view_functions[request.endpoint], "is_public", False):
        return None
    if not current_user.is_authenticated:
        target = safe_next(request.full_path.rstrip("?")) if request.method == "GET" else None
        return redirect(url_for("auth.login", next=target))
    if current_user.must_change_password and request.endpoint not in _PASSWORD_CHANGE_ALLOWED:
        flash("Choose a new password before you continue.", "warning")
        return redirect(url_for("auth.change_password"))
    return None


def init_app(app: Flask) -> None:
    app.before_request(_require_login)
    app.jinja_env.globals.update(can=lambda perm, target=None: can(current_user, perm, target))
    # Menus: the role grants the permission (its object rule is checked on the record later).
    app.jinja_env.globals.update(granted=lambda perm: perm in permissions_of(current_user))
    app.jinja_env.globals.update(Perm=Perm)
