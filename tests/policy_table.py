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
    "transfer.import_clients": MANAGER,
    "transfer.import_confirm": MANAGER,
    "transfer.census": MANAGER,
    "transfer.census_csv": MANAGER,
}
