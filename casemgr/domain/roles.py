"""Staff roles. What each role may do lives in casemgr.policy, not here."""

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    CLINIC_MANAGER = "clinic_manager"
    COUNSELOR = "counselor"
    NURSE = "nurse"
    PHYSICIAN = "physician"
    SUPERVISOR = "supervisor"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS: dict[Role, str] = {
    Role.ADMIN: "Administrator",
    Role.CLINIC_MANAGER: "Clinic manager",
    Role.COUNSELOR: "Counselor",
    Role.NURSE: "Nurse",
    Role.PHYSICIAN: "Physician",
    Role.SUPERVISOR: "Clinical supervisor",
}

# When a person holds several roles, their home page is the first of these they hold:
# clinical work lists come before administrative ones.
HOME_PRIORITY: tuple[Role, ...] = (
    Role.NURSE,
    Role.COUNSELOR,
    Role.PHYSICIAN,
    Role.SUPERVISOR,
    Role.CLINIC_MANAGER,
    Role.ADMIN,
)


def primary_role(roles: set[Role] | frozenset[Role]) -> Role | None:
    return next((r for r in HOME_PRIORITY if r in roles), None)
