"""Every model, imported once so migrations, the shell and tests see the whole schema."""

from .admin.models import Setting
from .audit.models import AuditChainHead, AuditEvent
from .auth.models import User, UserRole, UserSession
from .clients.models import Client, ClientFunding, ClientSubstance, MrnSequence
from .episodes.models import CaseloadAssignment, Discharge, Episode, LevelOfCareSpan, PhaseChange

__all__ = [
    "AuditChainHead",
    "AuditEvent",
    "CaseloadAssignment",
    "Client",
    "ClientFunding",
    "ClientSubstance",
    "Discharge",
    "Episode",
    "LevelOfCareSpan",
    "MrnSequence",
    "PhaseChange",
    "Setting",
    "User",
    "UserRole",
    "UserSession",
]
