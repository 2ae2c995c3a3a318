"""HTTP endpoints of channel connectors: configuration (secrets masked), a sync on demand, dead letters."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from omniloom.platform.http import (
    DEFAULT_PAGE_LIMIT,
    AdminDep,
    ChannelInPathDep,
    ClockDep,
    CursorQuery,
    DatabaseDep,
    LimitQuery,
    SettingsDep,
)
from omniloom.platform.pagination import Page
from omniloom.syndication.connectors import service, sync
from omniloom.syndication.connectors.schemas import (
    ConnectorIn,
    ConnectorOut,
    DeadLetterOut,
    DeadLetterStatus,
    SyncReportOut,
)

router = APIRouter(tags=["connectors"])
Code = Annotated[str, Path(max_length=64)]
LetterId = Annotated[str, Path(max_length=40)]


@router.put("/channels/{code}/connector", response_model=ConnectorOut,
            summary="Connect a channel: a folder (file) or its API (http); admin")
def put_connector(code: Code, data: ConnectorIn, _: AdminDep, db: DatabaseDep, clock: ClockDep) -> ConnectorOut:
    """Create or replace the channel's connector. Secrets are stored, and shown masked from then on."""
    with db.write() as session:
        return service.connector_out(session, service.configure(session, channel_code=code, data=data, clock=clock))


@router.get("/channels/{code}/connector", response_model=ConnectorOut,
            summary="The channel's connector, secrets masked (admin or the channel's own key)")
def get_connector(code: Code, _: ChannelInPathDep, db: DatabaseDep) -> ConnectorOut:
    with db.read() as session:
        return service.connector_out(session, service.get_connector(session, code))


@router.post("/channels/{code}/connector/sync", response_model=SyncReportOut,
             summary="Sync the channel now: push feed changes, pull and import orders, push tracking (admin)")
async def sync_now(code: Code, _: AdminDep, db: DatabaseDep, clock: ClockDep,
                   settings: SettingsDep) -> SyncReportOut:
    report = await run_in_threadpool(sync.sync_channel, db, code, clock, settings=settings)
    return report.out()


@router.get("/channels/{code}/connector/dead-letters", response_model=Page[DeadLetterOut],
            summary="What the connector could not deliver, and why (admin)")
def dead_letters(code: Code, _: AdminDep, db: DatabaseDep,
                 status: Annotated[DeadLetterStatus | None, Query()] = None,
                 limit: LimitQuery = DEFAULT_PAGE_LIMIT, cursor: CursorQuery = None) -> Page[DeadLetterOut]:
    with db.read() as session:
        rows, next_cursor = service.list_dead_letters(session, channel_code=code, status=status, limit=limit,
                                                      cursor=cursor)
        return Page(items=[DeadLetterOut.model_validate(row) for row in rows], next_cursor=next_cursor)


@router.post("/channels/{code}/connector/dead-letters/{letter_id}/retry", response_model=DeadLetterOut,
             responses={502: {"description": "The channel refused it again: the new reason is kept"}},
             summary="Deliver a dead letter now (admin)")
async def retry_dead_letter(code: Code, letter_id: LetterId, _: AdminDep, db: DatabaseDep, clock: ClockDep,
                            settings: SettingsDep) -> DeadLetterOut:
    letter = await run_in_threadpool(sync.retry_dead_letter, db, code, letter_id, clock, settings=settings)
    return DeadLetterOut.model_validate(letter)
