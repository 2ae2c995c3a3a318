"""Runtime settings, read once from ``OMNILOOM_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
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
    log_level: str = "INFO"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read from the environment on first use)."""
    return Settings()
