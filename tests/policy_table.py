"""The reviewed access policy: which roles may reach each endpoint. A new endpoint must be
added here (the sweep fails otherwise), so every route gets a deliberate decision."""

from casemgr.domain.roles import Role

PUBLIC = "public"
EVERYONE = frozenset(Role)
ADMIN_ONLY = frozenset({Role.ADMIN})
OVERSIGHT = frozenset({Role.ADMIN, Role.CLINIC_MANAGER})
# Seeing charts (each user only within their scope; out of scope answers 404).
CHART_READERS = frozenset(
    {Role.CLINIC_MANAGER, Role.COUNSELOR, Role.NURSE, Role.PHYSICIAN, Role.SUPERVISOR}
)
CHART_WORKERS = frozenset({Role.CLINIC_MANAGER, Role.COUNSELOR, Role.NURSE, Role.PHYSICIAN})
INTAKE = frozenset({Role.CLINIC_MANAGER, Role.COUNSELOR})
MANAGER = frozenset({Role.CLINIC_MANAGER})
PLAN_WRITERS = frozenset({Role.COUNSELOR})  # managers read plans but do not write them
GROUP_STAFF = frozenset({Role.CLINIC_MANAGER, Role.COUNSELOR})  # define groups, enrol
FACILITATORS = frozenset({Role.COUNSELOR})  # and only for groups they facilitate
SCREENERS = frozenset({Role.COUNSELOR, Role.NURSE, Role.PHYSICIAN})  # clinical roles only
NOTE_WRITERS = frozenset({Role.COUNSELOR, Role.NURSE, Role.PHYSICIAN})  # own notes only
SUPERVISORS = frozenset({Role.SUPERVISOR})
DETOX_STAFF = frozenset({Role.NURSE, Role.PHYSICIAN})  # and only while the episode is in detox
BOARD_READERS = frozenset({Role.NURSE, Role.PHYSICIAN, Role.CLINIC_MANAGER})
MED_STAFF = frozenset({Role.NURSE, Role.PHYSICIAN})  # open episodes only
AFTERCARE_WRITERS = frozenset({Role.COUNSELOR})  # the episode's primary counselor only
PRESCRIBERS = frozenset({Role.PHYSICIAN})
# Voiding a record entered in error: its recorder, a clinic manager, a physician for assessments
# and doses (object rule, casemgr.domain.voiding.may_void; tests/test_voiding.py).
VOIDERS = frozenset({Role.CLINIC_MANAGER, Role.COUNSELOR, Role.NURSE, Role.PHYSICIAN})
BREAK_GLASS = frozenset(
    {Role.COUNSELOR, Role.NURSE, Role.PHYSICIAN}
)  # clinical staff  # co-sign: only the physician the order names

EXPECTED: dict[str, object] = {
    "auth.login": PUBLIC,
    "health.healthz": PUBLIC,
    "auth.logout": EVERYONE,
    "auth.change_password": EVERYONE,
    "home.index": EVERYONE,
    "home.role_home": EVERYONE,  # but only for a role the user holds: test_home_pages
    "admin.staff_list": ADMIN_ONLY,
    "admin.staff_new": ADMIN_ONLY,
    "admin.staff_show": ADMIN_ONLY,
    "admin.staff_edit": ADMIN_ONLY,
    "admin.staff_password": ADMIN_ONLY,
    "admin.staff_action": ADMIN_ONLY,
    "admin.settings_edit": ADMIN_ONLY,
    "sites.index": ADMIN_ONLY,
    "sites.new": ADMIN_ONLY,
    "sites.edit": ADMIN_ONLY,
    "sites.deactivate": ADMIN_ONLY,
    "sites.reactivate": ADMIN_ONLY,
    "audit.index": OVERSIGHT,
    "audit.verify": OVERSIGHT,
    "clients.index": CHART_READERS,
    "clients.new": INTAKE,
    "clients.show": CHART_READERS,
    "clients.edit": INTAKE,
    "charts.client_timeline": CHART_READERS,
    "episodes.change_phase": CHART_WORKERS,
    "episodes.discharge": CHART_WORKERS,
    "episodes.level_of_care": CHART_WORKERS,
    "episodes.assign": MANAGER,
    "episodes.readmit": INTAKE,
    "episodes.change_site": MANAGER,
    "groups.index": GROUP_STAFF,
    "groups.new": GROUP_STAFF,
    "groups.show": GROUP_STAFF,
    "groups.edit": GROUP_STAFF,
    "groups.enrol": GROUP_STAFF,
    "groups.unenrol": GROUP_STAFF,  # only clients in the user's scope: test_groups
    "groups.record_meeting": FACILITATORS,
    "groups.show_meeting": GROUP_STAFF,  # lines of clients in scope only: test_groups
    "groups.sign_meeting": FACILITATORS,
    "screens.new": SCREENERS,
    "screens.show": CHART_READERS,
    "screens.history": CHART_READERS,
    "screens.void": VOIDERS,
    "detox.cows": DETOX_STAFF,
    "detox.ciwa": DETOX_STAFF,
    "detox.clearance": DETOX_STAFF,
    "detox.summary": CHART_READERS,
    "detox.board": BOARD_READERS,
    "detox.trend": CHART_READERS,
    "detox.void_assessment": VOIDERS,
    "aftercare.show": CHART_READERS,
    "aftercare.record_check_in": AFTERCARE_WRITERS,
    "aftercare.reschedule": AFTERCARE_WRITERS,
    "aftercare.relapse": AFTERCARE_WRITERS,
    "aftercare.close": AFTERCARE_WRITERS,
    "aftercare.void_check_in": VOIDERS,
    "aftercare.void_relapse": VOIDERS,
    "ccplan.new": AFTERCARE_WRITERS,
    "ccplan.show": CHART_READERS,
    "ccplan.edit": AFTERCARE_WRITERS,
    "ccplan.add_item": AFTERCARE_WRITERS,
    "ccplan.remove_item": AFTERCARE_WRITERS,
    "ccplan.sign": AFTERCARE_WRITERS,
    "printing.progress": INTAKE,  # counselors: their own caseload only
    "printing.discharge": INTAKE,
    "facility_reports.index": MANAGER,
    "facility_reports.census": MANAGER,
    "facility_reports.caseload": MANAGER,
    "facility_reports.outcomes": MANAGER,
    "batches.new": MANAGER,
    "batches.show": MANAGER,
    "batches.download": MANAGER,
    "batches.log": MANAGER,
    "batches.verify": MANAGER,
    "consents.index": CHART_READERS,  # consents and the accounting of disclosures
    "consents.new": INTAKE,  # counselors: their own caseload only
    "consents.show": CHART_READERS,
    "consents.revoke": INTAKE,
    "consents.print": INTAKE,
    "consents.scan": INTAKE,
    "consents.disclose": INTAKE,
    "consents.accounting": INTAKE,  # the printable accounting for the client
    "emergency.start": BREAK_GLASS,
    "emergency.end": BREAK_GLASS,
    "emergency.acknowledge": MANAGER,
    "restrictions.index": MANAGER,
    "restrictions.lift": MANAGER,
    "auth.second_factor": PUBLIC,  # reached only with a session waiting for its second factor
    "auth.two_factor": EVERYONE,
    "outcomes.index": MANAGER,
    "outcomes.export": MANAGER,
    "outcomes.chart": MANAGER,
    "mar.chart": CHART_READERS,
    "mar.new_order": MED_STAFF,  # a nurse's order is a verbal order awaiting co-signature
    "mar.give": MED_STAFF,
    "mar.cosign": PRESCRIBERS,
    "mar.discontinue": PRESCRIBERS,
    "mar.void_dose": VOIDERS,
    "notes.new": NOTE_WRITERS,
    "notes.show": CHART_READERS,
    "notes.edit": NOTE_WRITERS,  # the author of a draft only: tests/notes
    "notes.sign": NOTE_WRITERS,
    "notes.addendum": NOTE_WRITERS,
    "notes.cosign": SUPERVISORS,  # never one's own note
    "notes.return_to_author": SUPERVISORS,
    "notes.review": SUPERVISORS,
    "plans.show": CHART_READERS,
    "plans.version": CHART_READERS,
    "plans.create": PLAN_WRITERS,  # the episode's primary counselor only: tests/plans
    "plans.edit": PLAN_WRITERS,
    "plans.add_problem": PLAN_WRITERS,
    "plans.add_child": PLAN_WRITERS,
    "plans.edit_item": PLAN_WRITERS,
    "plans.remove_item": PLAN_WRITERS,
    "plans.sign": PLAN_WRITERS,
    "plans.start_review": PLAN_WRITERS,
    "transfer.import_clients": MANAGER,
    "transfer.import_confirm": MANAGER,
    "transfer.census": MANAGER,
    "transfer.census_csv": MANAGER,
}
