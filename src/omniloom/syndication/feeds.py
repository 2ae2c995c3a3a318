"""Streaming a channel's feed in any format: the full feed, a delta since a cursor, and the problems of its items.

Items pass the rules of the format's channel kind before they are written: an item with an error is left out of
the feed (and listed among the feed's issues), an item with warnings stays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from omniloom.inventory.service import LocationShare
from omniloom.syndication.deltas import change_batches
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
    """The whole feed, as text chunks (one per batch of items)."""
    count = count or FeedCount()
    validator = Validator(target, currency=channel.currency)
    yield writer.begin()
    for batch in item_batches(session, channel):
        valid = [item for item in batch if not _has_errors(validator, item)]
        yield writer.upsert_all(valid, _stores(session, channel, writer, valid))
        count.add(written=len(valid), left_out=len(batch) - len(valid))
    yield writer.end()


def delta_feed(session: Session, channel: Channel, writer: Writer, *, target: Target, after: int,
               count: FeedCount | None = None) -> Iterator[str]:
    """The items changed after change number ``after``: upserts, and deletions of what left the feed."""
    count = count or FeedCount()
    validator = Validator(target, currency=channel.currency)
    yield writer.begin()
    for changes in change_batches(session, channel, after=after):
        valid = [change.item for change in changes
                 if change.item is not None and not has_errors(validator.check(change.item))]
        kept = {item.id for item in valid}
        gone = [change.sku for change in changes if change.sku not in kept]
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


def _stores(session: Session, channel: Channel, writer: Writer, items: list[FeedItem]
            ) -> dict[str, list[LocationShare]]:
    return store_stock(session, channel, [item.id for item in items]) if writer.wants_stores and items else {}


def _has_errors(validator: Validator, item: FeedItem) -> bool:
    problems = validator.check(item)
    return bool(problems) and has_errors(problems)
