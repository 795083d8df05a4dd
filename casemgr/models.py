"""Every model, imported once so migrations, the shell and tests see the whole schema."""

from .admin.models import Setting
from .aftercare.models import (
    AftercareClosure,
    CheckIn,
    ContinuingCarePlan,
    LifeChange,
    PlanTrigger,
    RelapseEvent,
    SoberSupport,
)
from .audit.models import AuditChainHead, AuditEvent
from .auth.models import RecoveryCode, Throttle, User, UserRole, UserSession
from .clients.models import Client, ClientFunding, ClientSubstance, MrnSequence
from .detox.models import MedicalClearance, WithdrawalAssessment
from .episodes.models import (
    CaseloadAssignment,
    Discharge,
    Episode,
    LevelOfCareSpan,
    PhaseChange,
    SiteChange,
)
from .groups.models import Group, GroupEnrollment, GroupMeeting
from .mar.models import Drug, MedicationAdministration, MedicationOrder
from .notes.models import Addendum, ClinicalSession, Note, NoteReview
from .plans.models import PlanGoal, PlanIntervention, PlanObjective, PlanProblem, TreatmentPlan
from .printing.models import PrintedReport, ReportBatch
from .privacy.models import ClientRestriction, Consent, Disclosure, EmergencyAccess
from .screens.models import DrugScreen, DrugScreenResult
from .sites.models import Site

__all__ = [
    "RecoveryCode",
    "Throttle",
    "ClientRestriction",
    "Consent",
    "Disclosure",
    "EmergencyAccess",
    "PrintedReport",
    "ReportBatch",
    "AftercareClosure",
    "CheckIn",
    "ContinuingCarePlan",
    "LifeChange",
    "PlanTrigger",
    "RelapseEvent",
    "SoberSupport",
    "Drug",
    "MedicationAdministration",
    "MedicationOrder",
    "MedicalClearance",
    "WithdrawalAssessment",
    "Addendum",
    "ClinicalSession",
    "DrugScreen",
    "DrugScreenResult",
    "Group",
    "GroupEnrollment",
    "GroupMeeting",
    "Note",
    "NoteReview",
    "PlanGoal",
    "PlanIntervention",
    "PlanObjective",
    "PlanProblem",
    "TreatmentPlan",
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
    "Site",
    "SiteChange",
    "User",
    "UserRole",
    "UserSession",
]
