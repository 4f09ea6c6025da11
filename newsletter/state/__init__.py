"""The state database: subscribers, the send log, claims, job runs and the job store.

One SQLite file (the default, nothing to set up) or one PostgreSQL database
(``state.database: postgresql+psycopg://…``, for several hosts). This package
owns every statement: the lifecycle (``subscribers``), sending (``delivery``,
``claims``), bounces, the jobs and the web handlers call the functions below and
write no SQL of their own. ``engine`` opens connections and runs transactions,
``schema`` holds the one migration history both databases share, ``queries`` the
statements, ``locks`` the database advisory locks used with PostgreSQL.
"""

from __future__ import annotations

from .engine import Db, Row, connect, describe, engine_for, transaction
from .queries import (
    claim_holder as claim_holder,
)
from .queries import (
    delete_subscriber as delete_subscriber,
)
from .queries import (
    delivered as delivered,
)
from .queries import (
    delivery_statuses as delivery_statuses,
)
from .queries import (
    drop_claim as drop_claim,
)
from .queries import (
    finish_job_run as finish_job_run,
)
from .queries import (
    forget_deliveries as forget_deliveries,
)
from .queries import (
    insert_claim as insert_claim,
)
from .queries import (
    insert_subscriber as insert_subscriber,
)
from .queries import (
    is_suppressed as is_suppressed,
)
from .queries import (
    job_runs as job_runs,
)
from .queries import (
    notices_since as notices_since,
)
from .queries import (
    purge_pending as purge_pending,
)
from .queries import (
    record_bounce_event as record_bounce_event,
)
from .queries import (
    record_delivery as record_delivery,
)
from .queries import (
    record_notice as record_notice,
)
from .queries import (
    start_job_run as start_job_run,
)
from .queries import (
    subscriber_by_email as subscriber_by_email,
)
from .queries import (
    subscriber_by_id as subscriber_by_id,
)
from .queries import (
    subscriber_for_message as subscriber_for_message,
)
from .queries import (
    subscribers as subscribers,
)
from .queries import (
    suppress as suppress,
)
from .queries import (
    suppression_count as suppression_count,
)
from .queries import (
    unsuppress as unsuppress,
)
from .queries import (
    update_claim as update_claim,
)
from .queries import (
    update_subscriber as update_subscriber,
)
from .schema import SCHEMA_VERSION, migrate

__all__ = [
    "SCHEMA_VERSION",
    "Db",
    "Row",
    "claim_holder",
    "connect",
    "delete_subscriber",
    "delivered",
    "delivery_statuses",
    "describe",
    "drop_claim",
    "engine_for",
    "finish_job_run",
    "forget_deliveries",
    "insert_claim",
    "insert_subscriber",
    "is_suppressed",
    "job_runs",
    "migrate",
    "notices_since",
    "purge_pending",
    "record_bounce_event",
    "record_delivery",
    "record_notice",
    "start_job_run",
    "subscriber_by_email",
    "subscriber_by_id",
    "subscriber_for_message",
    "subscribers",
    "suppress",
    "suppression_count",
    "transaction",
    "unsuppress",
    "update_claim",
    "update_subscriber",
]
