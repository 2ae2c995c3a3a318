"""Streaming a channel's feed in any format: the full feed, a delta since a cursor, and the problems of its items.

Items pass the rules of the format's channel kind before they are written: an item with an error is left out of
the feed (and listed among the feed's issues), an item with warnings stays. A caught-up channel checked against
Google's rules writes its Google feeds, full and delta, from the rows its change tracking keeps
(``deltas.kept_google_rows``): the same items, checked the same way, without building them again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from omniloom.inventory.service import LocationShare
from omniloom.syndication.deltas import change_batches, keeps_google_rows, kept_google_changes, kept_google_rows
from omniloom.syndication.formats import FormatName, Writer
from omniloom.syndication.items import FeedItem, Problem, Severity
from omniloom.syndication.service import Channel, item_batches, store_stock
from omniloom.syndication.validation import Target, Validator, has_errors, target_for

FORMAT_TARGETS: dict[str, Target] = {"google_tsv": "google", "google_xml": "google",
                                     "local_inventory": "local_inventory", "meta_csv": "meta",
                                     "marketplace_csv": "marketplace"}


def target_of(format_name: FormatName, channel: Channel) -> Target:
    """The rules a format's items must pass; the JSON feed follows the channel's own kind."""
    return FORMAT_TARGETS.get(format_name) or target_for(channel.type)


@dataclass
class FeedCount:
    """How many items a feed wrote and left out; ``on_batch`` is told after every batch."""

    written: int = 0
    left_out: int = 0
    deleted: int = 0
    on_batch: Callable[[int], None] | None = None

    def add(self, *, written: int, left_out: int = 0, deleted: int = 0) -> None:
        self.written += written
        self.left_out += left_out
        self.deleted += deleted
        if self.on_batch:
            self.on_batch(written + left_out + deleted)


def full_feed(session: Session, channel: Channel, writer: Writer, *, target: Target,
              count: FeedCount | None = None) -> Iterator[str]:
    """The whole feed, as text chunks (one per batch of items). Callers catch the channel up first."""
    count = count or FeedCount()
    yield writer.begin()
    if _reads_kept_rows(session, channel, writer, target):
        for rows, left_out in kept_google_rows(session, channel):
            yield writer.google_rows(rows)
            count.add(written=len(rows), left_out=left_out)
    else:
        validator = Validator(target, currency=channel.currency)
        for batch in item_batches(session, channel):
            valid = [item for item in batch if not _has_errors(validator, item)]
            yield writer.upsert_all(valid, _stores(session, channel, writer, valid))
            count.add(written=len(valid), left_out=len(batch) - len(valid))
    yield writer.end()


def delta_feed(session: Session, channel: Channel, writer: Writer, *, target: Target, after: int,
               count: FeedCount | None = None) -> Iterator[str]:
    """The items changed after change number ``after``: upserts, and deletions of what left the feed. Callers
    catch the channel up first."""
    count = count or FeedCount()
    yield writer.begin()
    if _reads_kept_rows(session, channel, writer, target):
        for kept in kept_google_changes(session, channel, after=after):
            rows = [values for _sku, values in kept if values is not None]
            gone = [sku for sku, values in kept if values is None]
            yield writer.google_rows(rows) + "".join(writer.delete(sku) for sku in gone)
            count.add(written=len(rows), deleted=len(gone))
    else:
        validator = Validator(target, currency=channel.currency)
        for changes in change_batches(session, channel, after=after):
            valid = [change.item for change in changes
                     if change.item is not None and not has_errors(validator.check(change.item))]
            kept_skus = {item.id for item in valid}
            gone = [change.sku for change in changes if change.sku not in kept_skus]
            yield (writer.upsert_all(valid, _stores(session, channel, writer, valid))
                   + "".join(writer.delete(sku) for sku in gone))
            count.add(written=len(valid), deleted=len(gone))
    yield writer.end()


def feed_issues(session: Session, channel: Channel, *, target: Target, severity: Severity | None = None,
                skus: Sequence[str] | None = None, counted: Callable[[int], None] | None = None
                ) -> Iterator[Problem]:
    """Every problem of the channel's items (of ``skus``, if given) under ``target``'s rules, by SKU, optionally of
    one severity; ``counted`` is told how many items each batch checked."""
    validator = Validator(target, currency=channel.currency)
    for batch in item_batches(session, channel, skus=skus):
        if counted:
            counted(len(batch))
        for item in batch:
            for problem in validator.check(item):
                if severity is None or problem.severity == severity:
                    yield problem


def _reads_kept_rows(session: Session, channel: Channel, writer: Writer, target: Target) -> bool:
    """Whether the feed is written from the channel's kept rows: a Google format under Google's rules, of a channel
    that keeps its rows in that form."""
    return writer.writes_google_values and target == "google" and keeps_google_rows(session, channel)


def _stores(session: Session, channel: Channel, writer: Writer, items: list[FeedItem]
            ) -> dict[str, list[LocationShare]]:
    return store_stock(session, channel, [item.id for item in items]) if writer.wants_stores and items else {}


def _has_errors(validator: Validator, item: FeedItem) -> bool:
    problems = validator.check(item)
    return bool(problems) and has_errors(problems)
