"""Connector configuration and bookkeeping: settings with their secrets, the sync lease, cursors, what was sent,
and dead letters. Nothing here talks to a channel."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from pydantic import ValidationError
from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.orm import Session

from omniloom.channels import service as channels
from omniloom.platform.clock import Clock
from omniloom.platform.errors import FieldError, InvalidInput
from omniloom.platform.http import field_path
from omniloom.platform.ids import new_id
from omniloom.platform.pagination import paginate
from omniloom.syndication.connectors.errors import (
    ConnectorDisabled,
    ConnectorNotConfigured,
    DeadLetterNotFound,
    DeadLetterResolved,
    SyncInProgress,
)
from omniloom.syndication.connectors.models import ChannelConnector, ConnectorDeadLetter, ConnectorListing
from omniloom.syndication.connectors.schemas import (
    ConnectorIn,
    ConnectorOut,
    DeadLetterKind,
    FileSettings,
    HttpSettings,
    mask,
)

LEASE_SECONDS = 600  # longer than a sync's retries may wait
MAX_REASON = 1000


@dataclass(frozen=True)
class ConnectorConfig:
    """A connector as one sync sees it (read when the sync takes its lease)."""

    channel: str
    type: str
    enabled: bool
    settings: dict[str, Any]
    feed_cursor: str | None
    event_position: int
    failing_since: datetime | None
    give_up_after_seconds: int

    def giving_up(self, now: datetime) -> bool:
        """Whether the channel has refused work as unavailable for longer than the connector retries it."""
        return self.failing_since is not None and \
            now - self.failing_since >= timedelta(seconds=self.give_up_after_seconds)


# ---------------------------------------------------------------------------------------------- configuration


def configure(session: Session, *, channel_code: str, data: ConnectorIn, clock: Clock) -> ChannelConnector:
    """Create or replace the channel's connector; a 422 names the setting that is wrong."""
    channels.get_channel(session, channel_code)
    row = session.get(ChannelConnector, channel_code, with_for_update=True)
    stored = _keep_masked_secrets(data.settings, row.settings if row and row.type == data.type else {})
    settings = _validated(data.type, stored)
    now = clock.now()
    if row is None:
        row = ChannelConnector(channel_code=channel_code, feed_cursor=None, event_position=0, created_at=now)
        session.add(row)
    row.type, row.enabled, row.settings = data.type, data.enabled, settings
    row.interval_seconds, row.give_up_after_seconds = data.interval_seconds, data.give_up_after_seconds
    row.next_sync_at, row.updated_at = None, now
    session.flush()
    return row


def _validated(connector_type: str, settings: dict[str, Any]) -> dict[str, Any]:
    model = FileSettings if connector_type == "file" else HttpSettings
    try:
        return model.model_validate(settings).model_dump(mode="json", exclude_none=True)
    except ValidationError as error:
        raise InvalidInput.fields([FieldError("settings." + field_path(tuple(e["loc"])),
                                              e["msg"].removeprefix("Value error, "))
                                   for e in error.errors()]) from None


def _keep_masked_secrets(sent: Mapping[str, Any], stored: Mapping[str, Any]) -> dict[str, Any]:
    """``sent`` with every secret that came back exactly as it was shown replaced by the stored value."""
    merged = dict(sent)
    if isinstance(sent.get("headers"), dict):
        old = stored.get("headers", {})
        merged["headers"] = {name: old[name] if name in old and value == mask(old[name]) else value
                             for name, value in sent["headers"].items()}
    auth, old_auth = sent.get("basic_auth"), stored.get("basic_auth")
    if isinstance(auth, dict) and old_auth and auth.get("password") == mask(old_auth["password"]):
        merged["basic_auth"] = {**auth, "password": old_auth["password"]}
    return merged


def masked_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings with every secret masked."""
    shown = dict(settings)
    if "headers" in shown:
        shown["headers"] = {name: mask(value) for name, value in shown["headers"].items()}
    if shown.get("basic_auth"):
        shown["basic_auth"] = {**shown["basic_auth"], "password": mask(shown["basic_auth"]["password"])}
    return shown


def get_connector(session: Session, channel_code: str) -> ChannelConnector:
    """The channel's connector; raises ConnectorNotConfigured."""
    row = session.get(ChannelConnector, channel_code)
    if row is None:
        channels.get_channel(session, channel_code)
        raise ConnectorNotConfigured(channel_code)
    return row


def connector_out(session: Session, row: ChannelConnector) -> ConnectorOut:
    """The connector as the API shows it: secrets masked, with how many dead letters wait."""
    waiting = session.scalar(select(func.count()).select_from(ConnectorDeadLetter).where(
        ConnectorDeadLetter.channel_code == row.channel_code, ConnectorDeadLetter.status == "dead")) or 0
    return ConnectorOut(channel=row.channel_code, type=row.type, enabled=row.enabled,
                        settings=masked_settings(row.settings), interval_seconds=row.interval_seconds,
                        give_up_after_seconds=row.give_up_after_seconds, feed_cursor=row.feed_cursor,
                        event_position=row.event_position, last_sync_at=row.last_sync_at,
                        next_sync_at=row.next_sync_at, failing_since=row.failing_since, last_error=row.last_error,
                        open_dead_letters=waiting, updated_at=row.updated_at)


def config_of(row: ChannelConnector) -> ConnectorConfig:
    return ConnectorConfig(channel=row.channel_code, type=row.type, enabled=row.enabled, settings=dict(row.settings),
                           feed_cursor=row.feed_cursor, event_position=row.event_position,
                           failing_since=row.failing_since, give_up_after_seconds=row.give_up_after_seconds)


# ---------------------------------------------------------------------------------------------- sync lease


def due_channels(session: Session, *, clock: Clock) -> list[str]:
    """Channels whose enabled connector is due for a sync and not being synced."""
    now = clock.now()
    return list(session.scalars(
        select(ChannelConnector.channel_code)
        .where(ChannelConnector.enabled,
               (ChannelConnector.next_sync_at.is_(None)) | (ChannelConnector.next_sync_at <= now),
               (ChannelConnector.lease_until.is_(None)) | (ChannelConnector.lease_until < now))
        .order_by(ChannelConnector.channel_code)))


def take_lease(session: Session, *, channel_code: str, clock: Clock) -> ConnectorConfig:
    """Mark the channel as being synced (one sync at a time); raises SyncInProgress, ConnectorDisabled."""
    row = get_connector(session, channel_code)
    if not row.enabled:
        raise ConnectorDisabled(channel_code)
    now = clock.now()
    taken = session.execute(
        update(ChannelConnector)
        .where(ChannelConnector.channel_code == channel_code,
               (ChannelConnector.lease_until.is_(None)) | (ChannelConnector.lease_until < now))
        .values(lease_until=now + timedelta(seconds=LEASE_SECONDS)))
    if cast(CursorResult[Any], taken).rowcount != 1:
        raise SyncInProgress(channel_code)
    session.refresh(row)
    return config_of(row)


def end_sync(session: Session, *, channel_code: str, error: str | None, retry_after: float | None,
             clock: Clock) -> None:
    """Release the lease and schedule the next sync; an error starts (or continues) the failing streak."""
    row = get_connector(session, channel_code)
    now = clock.now()
    wait = max(float(row.interval_seconds), retry_after or 0.0)
    row.lease_until, row.last_sync_at, row.next_sync_at = None, now, now + timedelta(seconds=wait)
    row.last_error = error[:500] if error else None
    row.failing_since = (row.failing_since or now) if error else None


def set_feed_cursor(session: Session, *, channel_code: str, cursor: str) -> None:
    session.execute(update(ChannelConnector).where(ChannelConnector.channel_code == channel_code)
                    .values(feed_cursor=cursor))


def set_event_position(session: Session, *, channel_code: str, position: int) -> None:
    session.execute(update(ChannelConnector).where(ChannelConnector.channel_code == channel_code,
                                                   ChannelConnector.event_position < position)
                    .values(event_position=position))


# ---------------------------------------------------------------------------------------------- what was sent


def pushed_hashes(session: Session, *, channel_code: str, skus: Sequence[str]) -> dict[str, str]:
    """The fingerprint of each SKU's listing as the channel last received it."""
    found: dict[str, str] = {}
    for start in range(0, len(skus), 1000):
        rows = session.execute(select(ConnectorListing.sku, ConnectorListing.content_hash).where(
            ConnectorListing.channel_code == channel_code, ConnectorListing.sku.in_(skus[start:start + 1000])))
        found.update({row.sku: row.content_hash for row in rows})
    return found


def record_pushed(session: Session, *, channel_code: str, listed: Mapping[str, str], removed: Iterable[str],
                  clock: Clock) -> None:
    """Remember what the channel now holds: ``listed`` SKU → fingerprint; ``removed`` SKUs it no longer lists."""
    gone = set(removed) | set(listed)
    for chunk in _chunks(sorted(gone)):
        session.execute(delete(ConnectorListing).where(ConnectorListing.channel_code == channel_code,
                                                       ConnectorListing.sku.in_(chunk)))
    now = clock.now()
    session.add_all(ConnectorListing(channel_code=channel_code, sku=sku, content_hash=fingerprint, pushed_at=now)
                    for sku, fingerprint in listed.items())


def _chunks(values: Sequence[str], size: int = 1000) -> Iterable[Sequence[str]]:
    return (values[start:start + size] for start in range(0, len(values), size))


# ---------------------------------------------------------------------------------------------- dead letters


def add_dead_letter(session: Session, *, channel_code: str, kind: DeadLetterKind, subject: str,
                    payload: dict[str, Any], reason: str, clock: Clock) -> ConnectorDeadLetter:
    """Keep what could not be delivered; the same undelivered thing is kept once (its reason and count updated)."""
    now = clock.now()
    existing = session.scalars(select(ConnectorDeadLetter).where(
        ConnectorDeadLetter.channel_code == channel_code, ConnectorDeadLetter.kind == kind,
        ConnectorDeadLetter.subject == subject[:200], ConnectorDeadLetter.status == "dead")).first()
    if existing is not None:
        existing.reason, existing.payload = reason[:MAX_REASON], payload
        existing.attempts, existing.last_attempt_at = existing.attempts + 1, now
        return existing
    letter = ConnectorDeadLetter(id=new_id("dlq"), channel_code=channel_code, kind=kind, subject=subject[:200],
                                 payload=payload, reason=reason[:MAX_REASON], status="dead", attempts=1,
                                 created_at=now, last_attempt_at=now, resolved_at=None)
    session.add(letter)
    session.flush()
    return letter


def list_dead_letters(session: Session, *, channel_code: str, status: str | None, limit: int,
                      cursor: str | None) -> tuple[Sequence[ConnectorDeadLetter], str | None]:
    """The channel's dead letters, oldest first."""
    get_connector(session, channel_code)
    statement = select(ConnectorDeadLetter).where(ConnectorDeadLetter.channel_code == channel_code)
    if status:
        statement = statement.where(ConnectorDeadLetter.status == status)
    return paginate(session, statement, key=ConnectorDeadLetter.id, limit=limit, cursor=cursor)


def get_dead_letter(session: Session, *, channel_code: str, letter_id: str) -> ConnectorDeadLetter:
    """One of the channel's dead letters; raises DeadLetterNotFound."""
    letter = session.get(ConnectorDeadLetter, letter_id)
    if letter is None or letter.channel_code != channel_code:
        raise DeadLetterNotFound(f"dead letter '{letter_id}' of channel '{channel_code}' does not exist")
    return letter


def open_dead_letter(session: Session, *, channel_code: str, letter_id: str) -> ConnectorDeadLetter:
    """A dead letter that still waits to be delivered; raises DeadLetterResolved otherwise."""
    letter = get_dead_letter(session, channel_code=channel_code, letter_id=letter_id)
    if letter.status != "dead":
        raise DeadLetterResolved(f"dead letter '{letter_id}' was delivered at {letter.resolved_at}",
                                 current_status=letter.status)
    return letter


def settle_dead_letter(session: Session, *, channel_code: str, letter_id: str, error: str | None,
                       clock: Clock) -> ConnectorDeadLetter:
    """Record a retry: delivered (``error`` None) or refused again, with the new reason."""
    letter = get_dead_letter(session, channel_code=channel_code, letter_id=letter_id)
    now = clock.now()
    letter.attempts, letter.last_attempt_at = letter.attempts + 1, now
    if error is None:
        letter.status, letter.resolved_at = "resolved", now
    else:
        letter.reason = error[:MAX_REASON]
    return letter
