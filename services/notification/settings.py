"""The notification service's settings: where the notice gateway is, how patiently a notice
is sent (a setting, not a statutory number), which channels a party gets, the secret the
case query codes derive from, and the limits of the public progress page."""

from __future__ import annotations

from pydantic import AliasChoices, Field, IPvAnyNetwork, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from zhixing.bounds import MAX_DAYS
from zhixing.polling import PollingSettings
from zhixing.ports import AGENCY_GATEWAY_TARGET
from zhixing.settings import Environment

DEV_QUERY_CODE_SECRET = "zhixing-dev-query-code-secret-do-not-use-in-production"

CHANNELS = ("sms", "hotline_12368", "court_app")
"""The channels a notice can go by (NoticeQueued.channel)."""


class NotificationSettings(PollingSettings):
    model_config = SettingsConfigDict(env_prefix="ZHIXING_NOTIFICATION_", extra="ignore")

    # The notice gateway is stood in for by the agency gateway process: unless set on its
    # own, it is wherever the agency gateway is (ZHIXING_AGENCY_TARGET).
    gateway_target: str = Field(
        AGENCY_GATEWAY_TARGET,
        validation_alias=AliasChoices(
            "ZHIXING_NOTIFICATION_GATEWAY_TARGET", "ZHIXING_AGENCY_TARGET", "gateway_target"
        ),
        description="host:port of the notice gateway (default: ZHIXING_AGENCY_TARGET)",
    )
    call_timeout_s: float = Field(2.0, gt=0, description="Deadline of one gRPC call")
    max_attempts: int = Field(
        6, ge=1, le=100, description="Sends of one notice before it is listed as undelivered"
    )
    backoff_base_s: float = Field(
        60.0, gt=0, description="Wait before the second send; doubled after each failure"
    )
    backoff_max_s: float = Field(6 * 3600.0, gt=0, description="Longest wait between sends")
    channels: list[str] = Field(
        default_factory=lambda: ["sms", "court_app"],
        description="The channels every party is told by (sms, hotline_12368, court_app)",
    )
    query_code_secret: SecretStr = Field(
        SecretStr(DEV_QUERY_CODE_SECRET),
        description="HMAC key the case query codes and recipients' references derive from; "
        "at least 32 characters",
    )
    progress_limit_per_address: int = Field(
        30, ge=1, description="Progress page lookups per client address per window"
    )
    progress_limit_per_code: int = Field(
        10, ge=1, description="Progress page lookups of one code per window"
    )
    progress_window_s: int = Field(600, ge=1, description="The rate limit's window (seconds)")
    progress_trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Addresses or networks of the reverse proxies in front of the progress "
        'page (a JSON list, e.g. ["10.0.0.0/8"]): only a request whose peer is one of them '
        "is counted by the address X-Forwarded-For gives; none by default",
    )
    undelivered_retention_days: int = Field(
        180, ge=1, le=MAX_DAYS,
        description="Days a court's list of undelivered notices keeps one (the notice itself "
        "stays in its case's record)",
    )  # fmt: skip
    undelivered_kept_per_court: int = Field(
        10_000, ge=1, le=1_000_000,
        description="Most entries a court's undelivered list keeps; the oldest drop out",
    )  # fmt: skip
    env: Environment = Field(
        Environment.DEV,
        validation_alias=AliasChoices("ZHIXING_ENV", "env"),
        description="Copied from ZHIXING_ENV to judge the secret",
    )

    @model_validator(mode="after")
    def _checked(self) -> NotificationSettings:
        unknown = sorted(set(self.channels) - set(CHANNELS))
        if unknown or not self.channels:
            raise ValueError(
                f"ZHIXING_NOTIFICATION_CHANNELS must name one or more of {', '.join(CHANNELS)}"
                + (f", not {unknown}" if unknown else "")
            )
        secret = self.query_code_secret.get_secret_value()
        if len(secret) < 32:
            raise ValueError(
                "ZHIXING_NOTIFICATION_QUERY_CODE_SECRET must be at least 32 characters"
            )
        # Like the auth secrets: a forgotten variable must not reach a court, where anyone
        # who read this file could derive every party's code; only dev keeps the default.
        if self.env is not Environment.DEV and secret == DEV_QUERY_CODE_SECRET:
            raise ValueError(
                "ZHIXING_NOTIFICATION_QUERY_CODE_SECRET still holds the development default; "
                f"set a real secret before running with ZHIXING_ENV={self.env.value}"
            )
        return self

    @property
    def secret(self) -> bytes:
        return self.query_code_secret.get_secret_value().encode()
