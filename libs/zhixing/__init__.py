"""The library every Zhixing Command service shares, and nothing else: a service imports
these modules and the generated contracts (``zhixing.v1``), never another service; this
library imports no service and no tool (``tools/`` holds the CLI, ``make run``, local
infrastructure, the demo loader and the simulator)."""

__all__ = [
    "access",  # refusals and overseers' reads into the audit trail
    "anchor",  # signed checkpoints of the audit chain, the watcher's checks
    "assets",  # asset kinds, channels, control measures
    "audit",  # the hash-chained audit trail
    "audit_check",  # verifying the chain from outside (Redis, Kafka, checkpoints)
    "auth",  # identities, tokens, service credentials, scope checks
    "bounds",  # the bounds of every input
    "breaches",  # reacting to a rule's breached clocks
    "builder",  # the one builder every bootstrap.py uses
    "bus",  # exactly-once consumers of Kafka into Redis projections
    "case_accounts",  # the case's own account number (一案一账号)
    "clock",  # injected time
    "clock_events",  # the deadline engine's events one clock at a time
    "clock_states",  # the one vocabulary of a statutory clock's state
    "closures",  # a closed case takes no new measure (结案), and the rule that says so
    "court_directory_grpc",  # the court directory's gRPC servicer
    "courts",  # the court directory (法院名录)
    "dead_letters",  # messages no projection can apply, kept with their reason
    "errors",  # refusals of a command
    "event_types",  # every event type and the aggregate (topic) it belongs to
    "events",  # event envelopes: building, decoding, the registry
    "export",  # tables as CSV and XLSX for overseers
    "folding",  # a transaction's many writes as one script call
    "funds",  # the vocabulary of case funds (案款): sources, holds, legal reasons
    "gateway_client",  # a client of the outside systems' gateway (queries, controls, transfers)
    "http_protocol",  # the services' HTTP parser (httptools) with h11's bound on a request's head
    "idempotency",  # Idempotency-Key: a creating request sent again creates nothing new
    "kafka_connections",  # aiokafka's connections mended for uvloop's closed transports
    "known_cases",  # the cases a service knows, and the host of case-aware services
    "lease",  # one replica at a time runs a service's background loops
    "logs",  # structured logs
    "merkle",  # RFC 6962 Merkle trees and proofs
    "money",  # sums of fen in Redis counters that cannot overflow
    "outbox",  # events staged with the state change that records them
    "outside_answers",  # the bounds of what the outside systems answer
    "paging",  # listings a page at a time, with a cursor to the next
    "paths",  # where the repository's shipped files are
    "periods",  # counting statutory periods (期间)
    "persons",  # a person's age from the resident ID, and minority (never listed as 失信)
    "polling",  # background workers that poll (the agency and deduction workers)
    "ports",  # each service's default ports, below the ephemeral range
    "projection",  # what a consumer feeds: handlers on a batch transaction
    "protojson",  # protobuf messages as JSON-ready dicts, as MessageToDict gives them
    "publisher",  # publishing events to Kafka
    "records",  # JSON records with their history
    "rules",  # the rule catalogue
    "service",  # the service context and host
    "settings",  # typed settings from the environment
    "shared_clock",  # one simulated clock followed by processes through Redis (the bench)
    "state",  # Redis keys and transactions
    "stops",  # disputes' stop orders in force per case, and the refusal they cause
    "topics",  # every Kafka topic
    "tracing",  # OpenTelemetry traces across HTTP, the outbox and Kafka (off unless set)
    "uvloop_writes",  # uvloop's refusal to write to a closed transport, known as such
    "workcalendar",  # the statutory working-day calendar
]
