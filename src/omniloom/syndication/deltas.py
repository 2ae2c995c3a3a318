"""Delta sync: what changed in a channel's feed since a cursor it handed out.

Each channel keeps, per item, a digest of what its feed last showed (``feed_rows``) and numbers every change of
it (``sequence``). Catching up reads the outbox after the last event the channel followed, rebuilds the items those
events touch (a price, a stock level, a product, a listing; the channel's own settings or one of its locations
touch every item), and records a new number only where the digest changed. A stock change counts only when it
crosses the channel's ``low_stock_threshold`` or zero, so busy shelves do not flood a marketplace. A cursor is the
number of the last change a client has seen.

The rows also keep each shown item in its Google form (``google_row``) on channels checked against Google's rules,
and mark the items left out for errors, so that a caught-up channel's full Google feed is read from them
(``kept_google_rows``) instead of being built again from the catalog. ``ROW_FORM`` numbers that form: a channel
whose rows were kept in an older form has them all written again at its next catch-up.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, Literal

import orjson
from sqlalchemy import Select, insert, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from omniloom.channels import service as channels
from omniloom.platform import outbox
from omniloom.platform.clock import Clock
from omniloom.platform.db import Database, in_code_point_order
from omniloom.platform.errors import InvalidInput
from omniloom.platform.pagination import decode_cursor, encode_cursor
from omniloom.syndication.errors import invalid_cursor
from omniloom.syndication.formats import google_values
from omniloom.syndication.items import FeedItem
from omniloom.syndication.models import FeedRow, FeedState
from omniloom.syndication.rows import row_batches
from omniloom.syndication.service import BATCH, Channel, feed_channel, item_batches
from omniloom.syndication.validation import Validator, has_errors, target_for

EVENT_BATCH = 5000
SKU_CHUNK = 1000
# The form of the kept rows (``google_values`` as JSON); raise it when that form or what goes into it changes.
ROW_FORM = 1
# The state of an item left out for errors, beside the digests of shown items (hex digits, never this).
LEFT_OUT = "!"
# The rows of items the feed shows or leaves out for errors (not those of items gone from it).
_SHOWN_OR_LEFT_OUT = or_(FeedRow.deleted.is_(False), FeedRow.has_errors.is_(True))


@dataclass(frozen=True)
class FeedChange:
    """One item that changed: upserted (with its current item) or deleted from the channel's feed."""

    sku: str
    action: Literal["upsert", "delete"]
    item: FeedItem | None


def catch_up(session: Session, channel_code: str, *, clock: Clock) -> str:
    """Bring the channel's change numbers up to the committed outbox; returns the cursor of its latest change.

    The first call records every item as it is (the baseline). Callers of one channel wait for each other.
    """
    channel = feed_channel(session, channel_code)
    while outbox.assign_positions(session):
        pass  # number every committed event, so the catch-up sees all of them
    state = _locked_state(session, channel.code, clock=clock)
    tracker = _Tracker(session, channel, state)
    if state.events_position == 0 and state.sequence == 0:
        state.events_position = outbox.last_position(session)
        tracker.compare_all()
        _refresh_statistics(session)
    else:
        if state.row_form != ROW_FORM:
            tracker.compare_all(rewrite=True)
        _follow_events(session, channel, state, tracker)
    state.row_form = ROW_FORM
    state.sequence = tracker.sequence
    state.updated_at = clock.now()
    return encode_cursor(str(state.sequence))


def catch_up_all(database: Database, *, clock: Clock) -> int:
    """Catch up every active channel that has a feed, each in its own transaction; returns how many moved on."""
    with database.read() as session:
        codes = channels.codes_with_feeds(session)
    moved = 0
    for code in codes:
        with database.write() as session:
            before = session.scalar(select(FeedState.sequence).where(FeedState.channel_code == code))
            moved += catch_up(session, code, clock=clock) != (encode_cursor(str(before)) if before is not None
                                                                else None)
    return moved


def cursor_sequence(session: Session, channel_code: str, cursor: str, *, field: str = "since") -> int:
    """The change number a cursor stands for; a cursor this channel did not hand out is a 422 naming ``field``."""
    try:
        value = decode_cursor(cursor)
    except InvalidInput:
        raise invalid_cursor(field) from None
    latest = session.scalar(select(FeedState.sequence).where(FeedState.channel_code == channel_code))
    if not value.isdigit() or latest is None or int(value) > latest:
        raise invalid_cursor(field)
    return int(value)


def change_batches(session: Session, channel: Channel, *, after: int) -> Iterator[list[FeedChange]]:
    """The changes numbered after ``after``, oldest first, a batch at a time; an item that is no longer in the
    feed (removed, excluded, now invalid) comes as a deletion."""
    validator = _presence_validator(channel)
    while rows := list(session.execute(
            select(FeedRow.sku, FeedRow.sequence, FeedRow.deleted)
            .where(FeedRow.channel_code == channel.code, FeedRow.sequence > after)
            .order_by(FeedRow.sequence).limit(SKU_CHUNK))):
        wanted = sorted(row.sku for row in rows if not row.deleted)
        items = {item.id: item for item in _items(session, channel, wanted) if not has_errors(validator.check(item))}
        yield [FeedChange(row.sku, "upsert", items[row.sku]) if row.sku in items
               else FeedChange(row.sku, "delete", None) for row in rows]
        after = rows[-1].sequence


def changes_since(session: Session, *, channel_code: str, cursor: str | None, clock: Clock
                  ) -> tuple[list[FeedChange], str]:
    """Everything that changed after ``cursor`` (every current item when it is None) and the next cursor."""
    next_cursor = catch_up(session, channel_code, clock=clock)
    channel = feed_channel(session, channel_code)
    if cursor is None:
        validator = _presence_validator(channel)
        changes = [FeedChange(item.id, "upsert", item) for batch in item_batches(session, channel)
                   for item in batch if not has_errors(validator.check(item))]
        return changes, next_cursor
    after = cursor_sequence(session, channel_code, cursor, field="cursor")
    return [change for batch in change_batches(session, channel, after=after) for change in batch], next_cursor


def keeps_google_rows(session: Session, channel: Channel) -> bool:
    """Whether the channel's rows hold its current full Google feed: it is checked against Google's rules and its
    rows are kept in this version's form (call after ``catch_up``)."""
    return target_for(channel.type) == "google" and session.scalar(
        select(FeedState.row_form).where(FeedState.channel_code == channel.code)) == ROW_FORM


def kept_rows_statement(session: Session, channel: Channel) -> Select[str | None]:
    """The kept Google form of the items the channel's feed shows (None for those left out for errors), by SKU."""
    return (select(FeedRow.google_row)
            .where(FeedRow.channel_code == channel.code, _SHOWN_OR_LEFT_OUT)
            .order_by(in_code_point_order(FeedRow.sku, session.get_bind().dialect.name)))


def kept_google_rows(session: Session, channel: Channel) -> Iterator[tuple[list[list[Any]], int]]:
    """The ``google_values`` of the items the channel's feed shows, by SKU, a batch at a time, each batch with the
    number of items left out for errors among them."""
    loads = orjson.loads
    for batch in row_batches(session, kept_rows_statement(session, channel), size=BATCH):
        rows = [loads(row) for (row,) in batch if row is not None]
        yield rows, len(batch) - len(rows)


def kept_google_changes(session: Session, channel: Channel, *, after: int
                        ) -> Iterator[list[tuple[str, list[Any] | None]]]:
    """The changes numbered after ``after``, oldest first, a batch at a time: each SKU with its kept
    ``google_values``, or None when it left the feed."""
    while rows := session.execute(
            select(FeedRow.sku, FeedRow.sequence, FeedRow.deleted, FeedRow.google_row)
            .where(FeedRow.channel_code == channel.code, FeedRow.sequence > after)
            .order_by(FeedRow.sequence).limit(SKU_CHUNK)).all():
        yield [(row.sku, None if row.deleted or row.google_row is None else orjson.loads(row.google_row))
               for row in rows]
        after = rows[-1].sequence


def digest(item: FeedItem, *, low_stock_threshold: int) -> str:
    """What a channel would notice of an item, as 32 hex digits: every attribute, but stock only as far as it
    is below the threshold."""
    quantity = min(item.quantity, low_stock_threshold)
    facts = (item.title, item.description, item.link, item.currency, item.price, item.sale_price,
             item.availability, quantity, item.brand, item.gtin, item.mpn, item.condition, item.product_type,
             item.google_product_category, item.image_link, tuple(item.additional_image_links),
             tuple(sorted(item.attributes.items())), item.shipping_weight_grams, item.listing_id, item.item_group_id,
             item.pickup_stores)
    return hashlib.blake2b(repr(facts).encode(), digest_size=16).hexdigest()


def _refresh_statistics(session: Session) -> None:
    """After a baseline (a bulk load), let PostgreSQL's planner know how big ``feed_rows`` has grown."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE feed_rows"))


def _presence_validator(channel: Channel) -> Validator:
    """The rules that decide whether an item is in the channel's feed at all: those of the channel's kind."""
    return Validator(target_for(channel.type), currency=channel.currency)


def _locked_state(session: Session, channel_code: str, *, clock: Clock) -> FeedState:
    statement = select(FeedState).where(FeedState.channel_code == channel_code).with_for_update()
    state = session.scalars(statement).one_or_none()
    if state is None:
        try:
            with session.begin_nested():
                session.execute(insert(FeedState).values(channel_code=channel_code, events_position=0, sequence=0,
                                                         updated_at=clock.now()))
        except IntegrityError:
            pass  # another caller made it first; its lock below orders us after it
        state = session.scalars(statement.execution_options(populate_existing=True)).one()
    return state


def _follow_events(session: Session, channel: Channel, state: FeedState, tracker: _Tracker) -> None:
    while events := outbox.changes_since(session, cursor=state.events_position, limit=EVENT_BATCH):
        touched: set[str] = set()
        for event in events:
            skus = _touched_skus(event.subject, event.payload, channel)
            if skus is None:
                tracker.compare_all()
                touched.clear()
                break
            touched.update(skus)
        else:
            tracker.compare(sorted(touched))
        state.events_position = events[-1].position or state.events_position


def _touched_skus(subject: str, payload: dict[str, object], channel: Channel) -> Iterable[str] | None:
    """The SKUs an event may change in this channel's feed; None when it may change every item."""
    kind, _, key = subject.partition(":")
    if kind == "sku":
        return (key,)
    if kind == "product":
        return _strings(payload.get("skus"))
    if kind == "reservation":
        lines = payload.get("lines")
        return [str(line["sku"]) for line in lines if isinstance(line, dict)] if isinstance(lines, list) else ()
    if (kind == "channel" and key == channel.code) or (kind == "location" and key in channel.policy.location_codes):
        return None
    return ()


def _strings(value: object) -> list[str]:
    return [str(entry) for entry in value] if isinstance(value, list) else []


def _items(session: Session, channel: Channel, skus: Sequence[str]) -> Iterator[FeedItem]:
    for start in range(0, len(skus), SKU_CHUNK):
        for batch in item_batches(session, channel, skus=skus[start:start + SKU_CHUNK], with_stores=True):
            yield from batch


class _Tracker:
    """Compares items with what the feed last showed and numbers what differs."""

    def __init__(self, session: Session, channel: Channel, state: FeedState) -> None:
        self.session = session
        self.channel = channel
        self.sequence = state.sequence
        self.validator = _presence_validator(channel)
        self.keeps_google = self.validator.target == "google"
        self.threshold = channel.settings.low_stock_threshold
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        statement = dialect.insert(FeedRow)
        kept = {"deleted": statement.excluded.deleted, "google_row": statement.excluded.google_row,
                "has_errors": statement.excluded.has_errors}
        keys = [FeedRow.channel_code, FeedRow.sku]
        self.upsert = statement.on_conflict_do_update(
            index_elements=keys,
            set_={"digest": statement.excluded.digest, "sequence": statement.excluded.sequence, **kept})
        # What no feed client is told about (an item neither shown before nor now, or shown unchanged): its number
        # and digest stay.
        self.unnumbered = statement.on_conflict_do_update(index_elements=keys, set_=kept)

    def compare(self, skus: Sequence[str]) -> None:
        """Compare the items of ``skus`` (sorted)."""
        for start in range(0, len(skus), SKU_CHUNK):
            chunk = skus[start:start + SKU_CHUNK]
            shown = {sku: LEFT_OUT if left_out else row_digest for sku, row_digest, left_out in self.session.execute(
                select(FeedRow.sku, FeedRow.digest, FeedRow.has_errors)
                .where(FeedRow.channel_code == self.channel.code, FeedRow.sku.in_(chunk), _SHOWN_OR_LEFT_OUT))}
            current = self._states(_items(self.session, self.channel, chunk))
            self._record(shown, current, chunk)

    def compare_all(self, *, rewrite: bool = False) -> None:
        """Compare every item of the channel and every item its feed ever showed; ``rewrite`` writes the kept form
        of unchanged items too."""
        shown_rows = self.session.execute(
            select(FeedRow.sku, FeedRow.digest, FeedRow.has_errors)
            .where(FeedRow.channel_code == self.channel.code, _SHOWN_OR_LEFT_OUT)
            .order_by(in_code_point_order(FeedRow.sku, self.session.get_bind().dialect.name)),
            execution_options={"yield_per": SKU_CHUNK})
        shown = _SortedDigests((sku, LEFT_OUT if left_out else row_digest) for sku, row_digest, left_out in shown_rows)
        items = (item for batch in item_batches(self.session, self.channel, with_stores=True) for item in batch)
        while batch := list(islice(items, SKU_CHUNK)):
            current = self._states(batch)
            last = batch[-1].id
            previous = shown.up_to(last)
            self._record(previous, current, sorted(set(previous) | set(current)), rewrite=rewrite)
        remaining = shown.rest()
        self._record(remaining, {}, sorted(remaining))

    def _states(self, items: Iterable[FeedItem]) -> dict[str, tuple[str, FeedItem | None]]:
        """Each item's state (its digest, or ``LEFT_OUT`` when it has errors), with the item when it is shown."""
        states: dict[str, tuple[str, FeedItem | None]] = {}
        for item in items:
            if has_errors(self.validator.check(item)):
                states[item.id] = (LEFT_OUT, None)
            else:
                states[item.id] = (digest(item, low_stock_threshold=self.threshold), item)
        return states

    def _record(self, shown: dict[str, str], current: dict[str, tuple[str, FeedItem | None]], skus: Sequence[str],
                *, rewrite: bool = False) -> None:
        """Write the rows whose state changed (and, with ``rewrite``, those of every shown item), the kept form made
        only for the rows written: most items a catch-up compares have not changed."""
        numbered: list[dict[str, object]] = []
        unnumbered: list[dict[str, object]] = []
        for sku in skus:
            old = shown.get(sku)
            new, item = current.get(sku, (None, None))
            was_shown = old is not None and old != LEFT_OUT
            is_shown = new is not None and new != LEFT_OUT
            if old == new and not (rewrite and is_shown):
                continue
            kept = orjson.dumps(google_values(item)).decode() if item is not None and self.keeps_google else None
            row = {"channel_code": self.channel.code, "sku": sku, "deleted": not is_shown, "google_row": kept,
                   "has_errors": new == LEFT_OUT}
            if old != new and (was_shown or is_shown):
                self.sequence += 1
                numbered.append({**row, "digest": new if is_shown else old, "sequence": self.sequence})
            else:
                unnumbered.append({**row, "digest": new if is_shown else "", "sequence": 0})
        if numbered:
            self.session.execute(self.upsert, numbered)
        if unnumbered:
            self.session.execute(self.unnumbered, unnumbered)


class _SortedDigests:
    """Hands out a sorted stream of ``(sku, digest)`` rows up to a SKU at a time."""

    def __init__(self, rows: Iterator[tuple[str, str]]) -> None:
        self.rows = rows
        self.pending: tuple[str, str] | None = next(rows, None)

    def up_to(self, last: str) -> dict[str, str]:
        found: dict[str, str] = {}
        while self.pending is not None and self.pending[0] <= last:
            found[self.pending[0]] = self.pending[1]
            self.pending = next(self.rows, None)
        return found

    def rest(self) -> dict[str, str]:
        found = {} if self.pending is None else {self.pending[0]: self.pending[1]}
        found.update(dict(self.rows))
        self.pending = None
        return found
