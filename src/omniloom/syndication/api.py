"""HTTP endpoints of the channel feeds: the feed in any format (full or since a cursor) and its items' problems."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from omniloom.platform.db import Database
from omniloom.platform.http import ChannelInPathDep, ClockDep, DatabaseDep, SettingsDep
from omniloom.syndication import deltas, feeds
from omniloom.syndication.formats import FORMAT_NAMES, FormatName, Writer, writer_for
from omniloom.syndication.service import feed_channel
from omniloom.syndication.validation import Target, target_for

router = APIRouter(tags=["feeds"])
CURSOR_HEADER = "Omniloom-Feed-Cursor"


class FeedIssue(BaseModel):
    sku: str
    severity: Literal["error", "warning"]
    attribute: str
    message: str


class FeedIssues(BaseModel):
    items: list[FeedIssue]
    truncated: bool = False


@router.get(
    "/channels/{code}/feed",
    response_class=StreamingResponse,
    responses={200: {"description": "The feed, streamed; the header Omniloom-Feed-Cursor is the next `since`.",
                     "content": {"text/tab-separated-values": {}, "application/rss+xml": {}, "text/csv": {},
                                 "application/json": {}}}},
)
def get_feed(code: str, _: ChannelInPathDep, db: DatabaseDep, clock: ClockDep, settings: SettingsDep,
             format: Annotated[FormatName, Query(description="One of " + ", ".join(FORMAT_NAMES))] = "json",
             since: Annotated[str | None, Query(description="A cursor from an earlier response: only the items "
                                                            "that changed after it, deletions included.")] = None,
             ) -> StreamingResponse:
    """The channel's feed, streamed in constant memory (Google formats of a channel checked against Google's rules
    from the rows its change tracking keeps, others built from the catalog); with ``since``, only what changed."""
    with db.write() as session:
        cursor = deltas.catch_up(session, code, clock=clock)
        after = deltas.cursor_sequence(session, code, since) if since is not None else None
        site = feed_channel(session, code).site
    writer = writer_for(format, delta=after is not None, channel_code=code, site=site,
                        preparation_minutes=settings.pickup_preparation_minutes)
    return StreamingResponse(_stream(db, code, format, writer, after), media_type=writer.media_type,
                             headers={CURSOR_HEADER: cursor})


def _stream(db: Database, code: str, format: FormatName, writer: Writer, after: int | None) -> Iterator[str]:
    with db.read() as session:
        channel = feed_channel(session, code)
        target = feeds.target_of(format, channel)
        if after is None:
            yield from feeds.full_feed(session, channel, writer, target=target)
        else:
            yield from feeds.delta_feed(session, channel, writer, target=target, after=after)


@router.get("/channels/{code}/feed/issues", response_model=FeedIssues)
def get_feed_issues(code: str, _: ChannelInPathDep, db: DatabaseDep,
                    target: Annotated[Target | None, Query(description="Whose rules: google, local_inventory, "
                                                                       "meta or marketplace; by default those "
                                                                       "of the channel's type.")] = None,
                    severity: Literal["error", "warning"] | None = None,
                    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> FeedIssues:
    """The problems of the channel's items in plain words, by SKU; items with an error are not in its feed."""
    with db.read() as session:
        channel = feed_channel(session, code)
        problems = feeds.feed_issues(session, channel, target=target or target_for(channel.type),
                                     severity=severity)
        found = [FeedIssue(sku=problem.sku, severity=problem.severity, attribute=problem.attribute,
                           message=problem.message) for _, problem in zip(range(limit + 1), problems, strict=False)]
    return FeedIssues(items=found[:limit], truncated=len(found) > limit)
