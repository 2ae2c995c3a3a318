"""API keys (stored only as SHA-256 hashes), roles and the principal behind a request.

Roles: ``admin``; ``store:<location code>``; ``channel:<channel code>``; ``customer:<customer id>``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from omniloom.platform.clock import Clock
from omniloom.platform.db import Base, UTCDateTime
from omniloom.platform.errors import Forbidden, InvalidInput, NotFound
from omniloom.platform.ids import new_id

ROLE_PATTERN = re.compile(r"^(admin|(store|channel|customer):[A-Za-z0-9][A-Za-z0-9_.\-]{0,63})$")
KEY_PREFIX = "olk_"


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(80))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


@dataclass(frozen=True)
class Principal:
    """Who is calling, and what their role lets them touch."""

    key_id: str
    role: str

    @property
    def kind(self) -> str:
        return self.role.split(":", 1)[0]

    @property
    def subject(self) -> str | None:
        return self.role.split(":", 1)[1] if ":" in self.role else None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden(f"role '{self.role}' may not do this; it needs the admin role")

    def require_channel(self, code: str) -> None:
        """Admin, or a key acting as exactly this channel."""
        if not (self.is_admin or self.role == f"channel:{code}"):
            raise Forbidden(f"role '{self.role}' may not act for channel '{code}'")

    def require_store(self, location_code: str) -> None:
        """Admin, or a store associate key of exactly this location."""
        if not (self.is_admin or self.role == f"store:{location_code}"):
            raise Forbidden(f"role '{self.role}' may not act for location '{location_code}'")

    def require_kind(self, *kinds: str, action: str) -> None:
        """The role is one of ``kinds`` (admin, store, channel, customer)."""
        if self.kind not in kinds:
            raise Forbidden(f"role '{self.role}' may not {action}; it needs one of the roles: {', '.join(kinds)}")

    def require_staff(self) -> None:
        """Admin or any store associate: people who run the business."""
        if not (self.is_admin or self.kind == "store"):
            raise Forbidden(f"role '{self.role}' may not do this; it needs the admin or a store role")


def check_role(role: str) -> str:
    if not ROLE_PATTERN.match(role):
        raise InvalidInput.field("role", "must be admin, store:<location>, channel:<channel> or customer:<id>")
    return role


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(session: Session, *, role: str, name: str, clock: Clock) -> tuple[ApiKey, str]:
    """Create a key for ``role``; returns the row and the secret, which is shown once and never stored."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        id=new_id("key"), name=name, role=check_role(role), key_hash=hash_key(secret),
        hint=secret[: len(KEY_PREFIX) + 4], created_at=clock.now(),
    )
    session.add(key)
    session.flush()
    return key, secret


def find_principal(session: Session, secret: str) -> Principal | None:
    """The principal owning an unrevoked key, or None."""
    row = session.execute(
        select(ApiKey.id, ApiKey.role).where(ApiKey.key_hash == hash_key(secret), ApiKey.revoked_at.is_(None))
    ).first()
    return Principal(key_id=row.id, role=row.role) if row else None


def list_api_keys(session: Session) -> list[ApiKey]:
    """Every key, newest first (secrets are never stored, so never shown)."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id.desc())))


def revoke_api_key(session: Session, *, key_id: str, clock: Clock) -> ApiKey:
    """Revoke a key; requests with it fail once each process's key cache expires."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"API key '{key_id}' does not exist")
    if key.revoked_at is None:
        key.revoked_at = clock.now()
    return key
