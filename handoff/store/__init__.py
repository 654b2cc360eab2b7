"""The handoff service's persistence adapter: its tables, migrations and repository.

Start-up builds an engine with :func:`create_database_engine`, brings the schema to head with
:func:`upgrade_database` and hands :class:`ConversationStore` and :class:`AgentWorkStore` (the
agents' side of handoffs) to the gateway. Only frozen records leave this package. The state
vocabulary and graph live in :mod:`handoff.store.states`, which has no database dependency.
"""

from handoff.store.agent_work import (
    AgentWorkStore,
    ResolutionInput,
    ResolutionRecord,
    ResolvedHandoff,
    SlaEventRecord,
    TrainingExample,
)
from handoff.store.database import create_database_engine, session_factory, upgrade_database
from handoff.store.errors import (
    ConversationNotFound,
    HandoffStateError,
    IllegalTransition,
    NotAssignedAgent,
)
from handoff.store.repository import (
    ConversationRecord,
    ConversationStore,
    HandoffRecord,
    MessageRecord,
    NewHandoff,
    QueuedHandoff,
)
from handoff.store.states import (
    ALLOWED_TRANSITIONS,
    ConversationState,
    HandoffStatus,
    RootCause,
    Sender,
    SlaEventKind,
    SlaTarget,
)

__all__ = [
    "ALLOWED_TRANSITIONS",
    "AgentWorkStore",
    "ConversationNotFound",
    "ConversationRecord",
    "ConversationState",
    "ConversationStore",
    "HandoffRecord",
    "HandoffStateError",
    "HandoffStatus",
    "IllegalTransition",
    "MessageRecord",
    "NewHandoff",
    "NotAssignedAgent",
    "QueuedHandoff",
    "ResolutionInput",
    "ResolutionRecord",
    "ResolvedHandoff",
    "RootCause",
    "Sender",
    "SlaEventKind",
    "SlaEventRecord",
    "SlaTarget",
    "TrainingExample",
    "create_database_engine",
    "session_factory",
    "upgrade_database",
]
