"""The reviewed access policy: which roles may reach each endpoint. A new endpoint must be
added here (the sweep fails otherwise), so every route gets a deliberate decision."""

from casemgr.domain.roles import Role

PUBLIC = "public"
EVERYONE = frozenset(Role)
ADMIN_ONLY = frozenset({Role.ADMIN})
OVERSIGHT = frozenset({Role.ADMIN, Role.CLINIC_MANAGER})

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
}
