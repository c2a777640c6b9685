"""Typed settings, one class per concern, read from ``ZHIXING_*`` environment variables.

Every field is documented; secrets that still hold their development default are refused
outside the ``dev`` and ``test`` environments, so a forgotten variable cannot reach a court.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from zhixing.ports import DEFAULT_PORTS

__all__ = [
    "DEV_AUTH_SECRET",
    "DEV_SERVICE_SECRET",
    "AuthSettings",
    "Environment",
    "KafkaSettings",
    "PlatformSettings",
    "RedisSettings",
    "ServiceSettings",
    "TracingSettings",
    "service_settings",
]

DEV_AUTH_SECRET = "zhixing-dev-secret-do-not-use-in-production-0000"
DEV_SERVICE_SECRET = "zhixing-dev-service-secret-do-not-use-in-production"


class Environment(StrEnum):
    DEV = "dev"
    TEST = "test"
    PROD = "prod"


class PlatformSettings(BaseSettings):
    """Where this process runs."""

    model_config = SettingsConfigDict(env_prefix="ZHIXING_", extra="ignore")

    env: Environment = Field(Environment.DEV, description="dev, test or prod")
    log_level: str = Field("INFO", description="Root log level")
    log_json: bool = Field(True, description="Structured JSON logs (false: console lines)")


class KafkaSettings(BaseSettings):
    """How to reach Kafka, and how topics are named."""

    model_config = SettingsConfigDict(env_prefix="ZHIXING_KAFKA_", extra="ignore")

    bootstrap_servers: str = Field("127.0.0.1:9092", description="Comma-separated host:port")
    topic_prefix: str = Field(
        "", description="Prepended to every topic name; tests use it to isolate each test"
    )
    client_id: str = Field("zhixing", description="Client id reported to the broker")
    # 2,000 records and 256 KiB (not 500 and 64 KiB): the national day of 8,000 cases, two
    # alternate pairs, 9.88 and 10.14 ms of the services' CPU a case against 8.81 and 9.17,
    # 74 s against 70 and 68 (consumers with little to do fetched less often: entrustment
    # 0.20 to 0.13); the filing's p99 at 20 a second and the queries' latency within their
    # noise (issue 19). The audit records of a batch are cut to sizes Kafka takes
    # (zhixing.audit.RECORDS_EVENT_MAX_BYTES): in one event, 2,000 records were too large.
    consumer_batch_max_records: int = Field(2000, ge=1, description="Records per batch, at most")
    consumer_batch_timeout_ms: int = Field(200, ge=1, description="How long a batch may wait")
    # Under load, a fetch that waits for 256 KiB (or 300 ms) gives batches big enough that
    # the per-batch cost (one Redis transaction) is shared by many events; measured with
    # `make bench` (national day 600 cases: 38 s with fetches answered at once, 28 s with
    # 100 ms).
    # When quiet, each consumer fetches once per wait: 300 ms rather than 100 took the
    # services' CPU per case on the national day of 3,000 from 25.3 and 28.5 ms to 23.9 and
    # 23.6 (a consumer with little to do, as entrustment's, from 0.69 and 0.78 to 0.50 and
    # 0.53), for up to 200 ms more per hop between services when quiet (docs/scaling.md).
    consumer_fetch_min_bytes: int = Field(
        262144, ge=1, description="The broker holds a fetch until this many bytes are ready ..."
    )
    consumer_fetch_max_wait_ms: int = Field(
        300, ge=0, description="... or until this long has passed"
    )
    # Redis holds what each projection applied (zhixing.bus); the offsets committed to Kafka
    # only show the group's progress to Kafka's tools, so they need not cost a round trip
    # per batch.
    consumer_commit_interval_ms: int = Field(
        1000, ge=0, le=60_000,
        description="Offsets are committed to Kafka at most this often (0: after every batch)",
    )  # fmt: skip

    # Kafka's own default for a message (the broker's message.max.bytes is 1 MiB and 12
    # bytes): raise it only with the broker's and the topics' (max.message.bytes).
    producer_max_request_size: int = Field(
        1_048_576, ge=1024, le=104_857_600,
        description="The largest message sent, in bytes; the outbox relay sets a larger "
        "event aside (zhixing.outbox)",
    )  # fmt: skip

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments shared by aiokafka producers and consumers."""
        return {"bootstrap_servers": self.bootstrap_servers, "client_id": self.client_id}


class RedisSettings(BaseSettings):
    """How to reach Redis, and the key prefix that separates services and tests."""

    model_config = SettingsConfigDict(env_prefix="ZHIXING_REDIS_", extra="ignore")

    url: str = Field("redis://127.0.0.1:6379/0", description="redis:// URL")
    key_prefix: str = Field("", description="Prepended to every key (before the service name)")


class AuthSettings(BaseSettings):
    """Signing of identity tokens."""

    model_config = SettingsConfigDict(env_prefix="ZHIXING_AUTH_", extra="ignore")

    secret: SecretStr = Field(
        SecretStr(DEV_AUTH_SECRET),
        description="HMAC key for people's tokens; at least 32 characters",
    )
    # Service credentials are signed with a key of their own, so no person's token, and no
    # tool that mints people's tokens, can pass for a platform service (issue 13).
    service_secret: SecretStr = Field(
        SecretStr(DEV_SERVICE_SECRET),
        description="HMAC key for service credentials; at least 32 characters, not `secret`",
    )
    issuer: str = Field("zhixing", description="Token issuer claim")
    token_ttl_seconds: int = Field(8 * 3600, ge=60, description="Lifetime of issued tokens")
    env: Environment = Field(
        Environment.DEV,
        validation_alias=AliasChoices("ZHIXING_ENV", "env"),
        description="Copied from ZHIXING_ENV to judge the secret",
    )

    @model_validator(mode="after")
    def _refuse_default_secret_outside_dev(self) -> AuthSettings:
        secrets = (
            ("ZHIXING_AUTH_SECRET", self.secret.get_secret_value(), DEV_AUTH_SECRET),
            (
                "ZHIXING_AUTH_SERVICE_SECRET",
                self.service_secret.get_secret_value(),
                DEV_SERVICE_SECRET,
            ),
        )
        for name, value, default in secrets:
            if len(value) < 32:
                raise ValueError(f"{name} must be at least 32 characters")
            if self.env is not Environment.DEV and value == default:
                raise ValueError(
                    f"{name} still holds the development default; "
                    f"set a real secret before running with ZHIXING_ENV={self.env.value}"
                )
        if self.secret.get_secret_value() == self.service_secret.get_secret_value():
            raise ValueError(
                "ZHIXING_AUTH_SERVICE_SECRET must differ from ZHIXING_AUTH_SECRET: a person's "
                "token must never pass for a service credential"
            )
        return self


class TracingSettings(BaseSettings):
    """OpenTelemetry traces (``zhixing.tracing``): off unless an OTLP endpoint is set."""

    # populate_by_name: TracingSettings(endpoint=...) works too (the alias names the variables).
    model_config = SettingsConfigDict(
        env_prefix="ZHIXING_TRACING_", extra="ignore", populate_by_name=True
    )

    endpoint: str = Field(
        "",
        validation_alias=AliasChoices("ZHIXING_TRACING_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
        description="Base URL of an OTLP/HTTP collector (e.g. http://127.0.0.1:4318); "
        "spans go to <endpoint>/v1/traces. Empty: tracing is off",
    )
    sample_ratio: float = Field(
        1.0, ge=0.0, le=1.0, description="Share of new traces kept (a trace's spans follow it)"
    )

    @property
    def traces_url(self) -> str:
        return self.endpoint.rstrip("/") + "/v1/traces"


class ServiceSettings(BaseSettings):
    """Where one service listens. Defaults are set per service in ``zhixing.ports``."""

    model_config = SettingsConfigDict(extra="ignore")

    host: str = Field("127.0.0.1", description="Interface to bind HTTP and gRPC to")
    http_port: int = Field(0, ge=0, le=65535, description="HTTP port (0: any free port)")
    grpc_port: int = Field(0, ge=0, le=65535, description="gRPC port (0: any free port)")
    role: Literal["all", "answer"] = Field(
        "all",
        description=(
            "all: answer requests, consume events and run the loops; answer: answer "
            "requests alone (no consumer, no loop but those keeping the process's memory "
            "current), so that a deployment can give its answering processes the CPU "
            "before those catching up on events (docs/scaling.md)"
        ),
    )


def service_settings(name: str) -> ServiceSettings:
    """Settings for service ``name``, read from ``ZHIXING_<NAME>_*``; a port unset there is
    the service's own (``zhixing.ports.DEFAULT_PORTS``)."""
    defaults = DEFAULT_PORTS[name]

    class _Settings(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix=f"ZHIXING_{name.upper()}_", extra="ignore")

    settings = _Settings()
    # Keyword arguments would override the environment, so defaults fill only unset fields.
    if "http_port" not in settings.model_fields_set:
        settings.http_port = defaults.http or 0
    if "grpc_port" not in settings.model_fields_set:
        settings.grpc_port = defaults.grpc
    return settings
