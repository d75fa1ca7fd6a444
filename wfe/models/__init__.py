"""The wire contract: every request and response body of the HTTP API.

The daemon validates requests with these models and serialises responses through them;
the OpenAPI document is generated from them. The CLI stays off pydantic for start-up time
and reads the same JSON as plain dicts.
"""

from __future__ import annotations

from wfe.models.admin import (
    MAX_STORED_VALUE as MAX_STORED_VALUE,
)
from wfe.models.admin import (
    AuditProblem as AuditProblem,
)
from wfe.models.admin import (
    AuditReport as AuditReport,
)
from wfe.models.admin import (
    AuditSummary as AuditSummary,
)
from wfe.models.admin import (
    CreateSchedule as CreateSchedule,
)
from wfe.models.admin import (
    CreateToken as CreateToken,
)
from wfe.models.admin import (
    CreateWebhook as CreateWebhook,
)
from wfe.models.admin import (
    DeletedRunRecord as DeletedRunRecord,
)
from wfe.models.admin import (
    Delivery as Delivery,
)
from wfe.models.admin import (
    Duration as Duration,
)
from wfe.models.admin import (
    GlobalEvent as GlobalEvent,
)
from wfe.models.admin import (
    NewToken as NewToken,
)
from wfe.models.admin import (
    Schedule as Schedule,
)
from wfe.models.admin import (
    ScheduleEvent as ScheduleEvent,
)
from wfe.models.admin import (
    SecretHeader as SecretHeader,
)
from wfe.models.admin import (
    SetStoredValue as SetStoredValue,
)
from wfe.models.admin import (
    StoredValue as StoredValue,
)
from wfe.models.admin import (
    StoredValueBody as StoredValueBody,
)
from wfe.models.admin import (
    Token as Token,
)
from wfe.models.admin import (
    UiCode as UiCode,
)
from wfe.models.admin import (
    UpdateSchedule as UpdateSchedule,
)
from wfe.models.admin import (
    Webhook as Webhook,
)
from wfe.models.base import (
    STORED_NAME as STORED_NAME,
)
from wfe.models.base import (
    ApprovalStatus as ApprovalStatus,
)
from wfe.models.base import (
    Catchup as Catchup,
)
from wfe.models.base import (
    CreateUser as CreateUser,
)
from wfe.models.base import (
    DeliveryStatus as DeliveryStatus,
)
from wfe.models.base import (
    ErrorBody as ErrorBody,
)
from wfe.models.base import (
    ErrorDetail as ErrorDetail,
)
from wfe.models.base import (
    FieldError as FieldError,
)
from wfe.models.base import (
    HandlerRole as HandlerRole,
)
from wfe.models.base import (
    HandlersPhase as HandlersPhase,
)
from wfe.models.base import (
    HandlerStatus as HandlerStatus,
)
from wfe.models.base import (
    Health as Health,
)
from wfe.models.base import (
    ItemStatus as ItemStatus,
)
from wfe.models.base import (
    Model as Model,
)
from wfe.models.base import (
    Overlap as Overlap,
)
from wfe.models.base import (
    Page as Page,
)
from wfe.models.base import (
    Response as Response,
)
from wfe.models.base import (
    Role as Role,
)
from wfe.models.base import (
    Scope as Scope,
)
from wfe.models.base import (
    T as T,
)
from wfe.models.base import (
    TemplateStatus as TemplateStatus,
)
from wfe.models.base import (
    TriggerType as TriggerType,
)
from wfe.models.base import (
    UpdateUser as UpdateUser,
)
from wfe.models.base import (
    User as User,
)
from wfe.models.base import (
    UserWithToken as UserWithToken,
)
from wfe.models.cluster import (
    Cluster as Cluster,
)
from wfe.models.cluster import (
    Lease as Lease,
)
from wfe.models.cluster import (
    Node as Node,
)
from wfe.models.cluster import (
    RunningStep as RunningStep,
)
from wfe.models.runs import (
    Approval as Approval,
)
from wfe.models.runs import (
    Attempt as Attempt,
)
from wfe.models.runs import (
    CallbackAccepted as CallbackAccepted,
)
from wfe.models.runs import (
    CancelRun as CancelRun,
)
from wfe.models.runs import (
    CreatedTemplate as CreatedTemplate,
)
from wfe.models.runs import (
    Decision as Decision,
)
from wfe.models.runs import (
    Event as Event,
)
from wfe.models.runs import (
    HandlerStep as HandlerStep,
)
from wfe.models.runs import (
    ItemProgress as ItemProgress,
)
from wfe.models.runs import (
    QueuedBehind as QueuedBehind,
)
from wfe.models.runs import (
    RollbackRequest as RollbackRequest,
)
from wfe.models.runs import (
    RollbackResult as RollbackResult,
)
from wfe.models.runs import (
    Run as Run,
)
from wfe.models.runs import (
    RunDeleted as RunDeleted,
)
from wfe.models.runs import (
    RunHandlers as RunHandlers,
)
from wfe.models.runs import (
    Snapshot as Snapshot,
)
from wfe.models.runs import (
    StartRun as StartRun,
)
from wfe.models.runs import (
    Step as Step,
)
from wfe.models.runs import (
    StepItem as StepItem,
)
from wfe.models.runs import (
    Template as Template,
)
from wfe.models.runs import (
    TemplateRef as TemplateRef,
)
from wfe.models.runs import (
    TemplateWarning as TemplateWarning,
)
