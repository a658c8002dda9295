"""All tables, imported here so SQLModel.metadata knows them (Alembic, tests)."""

from app.models.accreditations import (  # noqa: F401
    Accreditation,
    AccreditationRequest,
    Delegation,
    Equipment,
    Platform,
    RequestDocument,
    Suspension,
)
from app.models.audit import AuditEvent, StatCounter  # noqa: F401
from app.models.cert_sessions import CertSession, SessionState, Trainee  # noqa: F401
from app.models.certificates import (  # noqa: F401
    Bundle,
    Certificate,
    ImportRun,
    NumberSequence,
    Qualification,
)
from app.models.files import StoredFile, StoredFileChunk  # noqa: F401
from app.models.help import ContactRequest, FaqEntry, Manual  # noqa: F401
from app.models.messaging import (  # noqa: F401
    Alert,
    MessageReceipt,
    Notification,
    OutboxEmail,
    TargetedMessage,
)
from app.models.organizations import Organization, OrganizationChange  # noqa: F401
from app.models.people import AccountToken, Person, Role, RoleGrant  # noqa: F401
from app.models.reference import (  # noqa: F401
    CertificateModel,
    Department,
    DocumentRequirement,
    Fund,
    LevelQualification,
    Scheme,
    SchemeLevel,
)
