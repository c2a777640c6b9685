"""Every Kafka topic of the platform, its key and its partition count: declared here only.

One topic per aggregate type. Messages are keyed by the aggregate id, so all events of one
case (dispute, entrustment, ...) stay in order on one partition. Each topic has a
dead-letter twin (``<name>.dlq``) for messages its consumers could not decode or validate.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ACCESS_EVENTS",
    "ALL_TOPICS",
    "ASSET_EVENTS",
    "AUDITED_TOPICS",
    "AUDIT_CHECKPOINTS",
    "AUDIT_RECORDS",
    "CASE_EVENTS",
    "CLOCK_SIGNAL_TOPICS",
    "COMMAND_EVENTS",
    "COMMAND_TOPICS",
    "CREDIT_EVENTS",
    "DEADLINE_EVENTS",
    "DISPUTE_EVENTS",
    "DLQ_SUFFIX",
    "DOMAIN_TOPICS",
    "ENTRUSTMENT_EVENTS",
    "FUNDS_EVENTS",
    "NOTIFICATION_EVENTS",
    "SUPERVISION_EVENTS",
    "Topic",
    "physical_name",
    "topic_for_aggregate",
]

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    aggregate_type: str
    key: str
    partitions: int
    description: str

    @property
    def dead_letter_name(self) -> str:
        return self.name + DLQ_SUFFIX


CASE_EVENTS = Topic(
    "zhixing.case.events", "case", "case_id", 6, "Intake and case lifecycle (立案, 分流, 结案)"
)
ASSET_EVENTS = Topic(
    "zhixing.asset.events", "asset", "asset_id", 6, "Asset queries, control and disposal (财产查控)"
)
DISPUTE_EVENTS = Topic(
    "zhixing.dispute.events", "dispute", "dispute_id", 3, "Enforcement disputes (执行争议协调)"
)
ENTRUSTMENT_EVENTS = Topic(
    "zhixing.entrustment.events",
    "entrustment",
    "entrustment_id",
    3,
    "Matter entrustment between courts (事项委托)",
)
DEADLINE_EVENTS = Topic(
    "zhixing.deadline.events",
    "deadline",
    "subject_id",  # the clock's subject: its clocks, and the event opening several, in order
    6,
    "Statutory clocks: opened, warned, breached, escalated (节点管控)",
)
COMMAND_EVENTS = Topic(
    "zhixing.command.events", "command", "command_id", 3, "Command actions (统一指挥)"
)
FUNDS_EVENTS = Topic(
    "zhixing.funds.events",
    "funds",
    "case_id",
    6,
    "Case funds: the case account, money in, holds, notices and payouts (案款)",
)

CREDIT_EVENTS = Topic(
    "zhixing.credit.events",
    "credit",
    "case_id",
    6,
    "Credit punishment: consumption restrictions and the 失信 list (限制消费、失信名单)",
)

SUPERVISION_EVENTS = Topic(
    "zhixing.supervision.events",
    "supervision",
    "aggregate_id",
    3,
    "Supervision: 专人 tasks, petitions (信访), the interference register, officers' postings",
)
NOTIFICATION_EVENTS = Topic(
    "zhixing.notification.events",
    "notification",
    "case_id",
    6,
    "Notices to the parties: queued, delivered, undelivered (告知当事人)",
)

ACCESS_EVENTS = Topic(
    "zhixing.access.events",
    "access",
    "request_id",
    3,
    "Accesses kept in the audit trail: refusals (401/403) and overseers' reads",
)
AUDIT_RECORDS = Topic(
    "zhixing.audit.records",
    "audit_records",
    "chain",
    1,  # one partition: the records arrive in chain order
    "The audit chain's records as appended, for the notary (留痕 outside Redis)",
)
AUDIT_CHECKPOINTS = Topic(
    "zhixing.audit.checkpoints",
    "audit_checkpoint",
    "chain",
    1,
    "Signed checkpoints (Merkle roots) of the audit chain",
)

DOMAIN_TOPICS: tuple[Topic, ...] = (
    CASE_EVENTS,
    ASSET_EVENTS,
    DISPUTE_EVENTS,
    ENTRUSTMENT_EVENTS,
    DEADLINE_EVENTS,
    COMMAND_EVENTS,
    FUNDS_EVENTS,
    CREDIT_EVENTS,
    SUPERVISION_EVENTS,
    NOTIFICATION_EVENTS,
)
"""The enforcement business: what the projections follow."""

COMMAND_TOPICS: tuple[Topic, ...] = tuple(t for t in DOMAIN_TOPICS if t is not NOTIFICATION_EVENTS)
"""What the command centre's board and timelines follow: the enforcement business, but not
the notices to the parties, which the notification service keeps and shows (one event per
attempt of each party's notice, sent on its own timing)."""

CLOCK_SIGNAL_TOPICS: tuple[Topic, ...] = tuple(t for t in DOMAIN_TOPICS if t is not DEADLINE_EVENTS)
"""What starts, stops, pauses and moves statutory clocks: every domain topic but the clocks'
own (the deadline engine never consumes what it publishes)."""

AUDITED_TOPICS: tuple[Topic, ...] = (*DOMAIN_TOPICS, ACCESS_EVENTS)
"""Every event the audit chain records."""

ALL_TOPICS: tuple[Topic, ...] = (*AUDITED_TOPICS, AUDIT_RECORDS, AUDIT_CHECKPOINTS)

_BY_AGGREGATE = {topic.aggregate_type: topic for topic in ALL_TOPICS}


def topic_for_aggregate(aggregate_type: str) -> Topic:
    try:
        return _BY_AGGREGATE[aggregate_type]
    except KeyError:
        known = ", ".join(sorted(_BY_AGGREGATE))
        raise ValueError(
            f"no topic carries aggregate type {aggregate_type!r} (known: {known})"
        ) from None


def physical_name(topic_name: str, prefix: str) -> str:
    """The broker-side name: tests isolate themselves with a prefix."""
    return f"{prefix}{topic_name}"
