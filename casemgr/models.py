"""Every model, imported once so migrations, the shell and tests see the whole schema."""

from .admin.models import Setting
from .audit.models import AuditChainHead, AuditEvent
from .auth.models import User, UserRole, UserSession

__all__ = ["AuditChainHead", "AuditEvent", "Setting", "User", "UserRole", "UserSession"]
