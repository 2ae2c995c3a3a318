"""Runtime settings, read once from ``OMNILOOM_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, NameEmail, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything Omniloom can be configured with; each field is ``OMNILOOM_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="OMNILOOM_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///omniloom.db",
        description="SQLAlchemy URL; SQLite file by default, postgresql+psycopg://... in production.",
    )
    database_pool_size: int = Field(default=20, ge=1, description="Connections per process (PostgreSQL).")
    reservation_ttl_seconds: int = Field(default=900, ge=1, le=7 * 24 * 3600)
    worker_interval_seconds: float = Field(default=1.0, gt=0)
    api_key_cache_seconds: float = Field(
        default=10.0, ge=0, description="How long a process trusts a verified API key before asking again."
    )
    default_phone_region: str = Field(
        default="NL", pattern=r"^[A-Z]{2}$",
        description="ISO 3166 region for phone numbers written without a country code.")
    identity_guards: list[Literal["verified_email_conflict", "loyalty_id_conflict"]] = Field(
        default=["verified_email_conflict"],
        description="Rules that refuse to merge two profiles (JSON list). A device flagged shared never links, "
                    "and profiles separated by an undone merge never merge again, whatever this says.")
    nats_url: str | None = Field(
        default=None, description="NATS server (nats://host:4222); when set, every event is also published to "
                                  "JetStream as omniloom.<event type>.")
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60, description="Timeout of one webhook call.")
    webhook_backoff_base_seconds: float = Field(
        default=10.0, gt=0, description="Ceiling of the first retry delay; it doubles after each failure.")
    webhook_backoff_cap_seconds: float = Field(
        default=6 * 3600.0, gt=0, description="Largest ceiling of a retry delay.")
    webhook_max_age_seconds: float = Field(
        default=3 * 24 * 3600.0, gt=0, description="How long a delivery is retried before it is marked dead.")
    checkout_hold_seconds: int = Field(
        default=300, ge=1, le=3600, description="How long a checkout holds the stock while the payment provider "
                                                "answers; a checkout that died is cleaned up after this.")
    pickup_preparation_minutes: int = Field(
        default=120, ge=0, le=7 * 24 * 60, description="Promised time from order to ready for pickup (the SLA) "
                                                       "when the store has the stock.")
    pickup_window_hours: int = Field(
        default=72, ge=1, le=60 * 24, description="How long a ready pickup waits before it expires and restocks.")
    store_daily_capacity: int = Field(
        default=200, ge=1, description="Fulfillments a location handles in a day; open work over this is the "
                                       "workload that routing weighs.")
    smtp_host: str | None = Field(
        default=None, description="Mail server for customer and store emails; when unset, messages are recorded as "
                                  "skipped with the reason instead of sent.")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = Field(default=None, description="Log in with this user when set.")
    smtp_password: SecretStr | None = Field(default=None, description="Never logged or shown.")
    smtp_starttls: bool = Field(default=True, description="Upgrade the connection with STARTTLS before logging in.")
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120, description="Timeout of one SMTP operation.")
    mail_from: NameEmail | None = Field(
        default=None, description="Sender of every email, e.g. `Loom & Co <orders@loom.example>`; needed to send.")
    brand_name: str = Field(default="Omniloom", min_length=1, max_length=100,
                            description="The retailer's name in the header and signature of every email.")
    brand_color: str = Field(default="#1f4e79", pattern=r"^#[0-9a-fA-F]{6}$",
                             description="Accent colour of the emails' header and buttons.")
    mail_backoff_base_seconds: float = Field(
        default=60.0, gt=0, description="Ceiling of the first retry delay of a failed email; it doubles after each.")
    mail_backoff_cap_seconds: float = Field(default=3600.0, gt=0, description="Largest ceiling of a retry delay.")
    mail_max_age_seconds: float = Field(
        default=24 * 3600.0, gt=0, description="How long a failing email is retried before it stays failed.")
    log_level: str = "INFO"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read from the environment on first use)."""
    return Settings()
