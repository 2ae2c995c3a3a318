"""Importing customer history from a file: JSON Lines events, or a CSV export of purchases and other events.

Every row becomes one event shaped as in ``POST /events`` and goes through the same checks and identity resolution.
A row without an ``id`` gets a stable one, so importing the same file again stores nothing twice: an order's id comes
from its channel and order id (the key a purchase is unique by), any other event's from its whole content.
The file is read once to check it before anything is written; a row that fails is reported, never fatal.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.numbers import get_currency_precision

from omniloom.channels import service as channels
from omniloom.customers import service
from omniloom.customers.intake import prepare_batch
from omniloom.customers.schemas import HistoryFormat
from omniloom.platform.clock import Clock
from omniloom.platform.db import Database
from omniloom.platform.errors import FieldError, InvalidInput

FORMATS: dict[str, HistoryFormat] = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
IDENTIFIER_COLUMNS = ("email", "phone", "device_id", "loyalty_id", "external_ids")
COLUMNS = ("id", "type", "channel", "timestamp", *IDENTIFIER_COLUMNS, "verified", "order_id", "amount", "currency",
           "lines", "sku", "quantity", "name", "first_name", "last_name")
PROPERTY_COLUMNS = ("order_id", "sku", "quantity", "name", "first_name", "last_name")
DEFAULT_TYPE = "order_completed"
EVENT_ID_PREFIX = "hist_"
_AMOUNT = re.compile(r"^\d+([.,]\d+)?$")
_EVENT_PREFIX = re.compile(r"^events\[\d+\]\.?")
# Where an intake error about an event field points in a CSV row: (path prefix, column; "" keeps the next name).
_CSV_COLUMN_OF = (("identifiers.external_ids", "external_ids"), ("identifiers.verified", "verified"),
                  ("identifiers.", ""), ("properties.total.currency", "currency"), ("properties.total", "amount"),
                  ("properties.lines", "lines"), ("properties.", ""))


@dataclass(frozen=True)
class HistoryFile:
    """A checked file: its format, how many rows it holds and how to read them."""

    path: Path
    format: HistoryFormat
    rows: int
    default_channel: str | None
    timezone: tzinfo
    columns: tuple[str, ...] = ()
    delimiter: str = ","


@dataclass(frozen=True)
class Row:
    """One row: the event it maps to, or why it cannot; ``source`` is the row as read (for the rejects file)."""

    line: int
    source: Any
    event: dict[str, Any] | None
    errors: tuple[FieldError, ...] = ()


@dataclass(frozen=True)
class RejectedRow:
    line: int
    errors: tuple[FieldError, ...]
    source: Any

    def describe(self) -> str:
        return f"line {self.line}: " + "; ".join(f"{e.field}: {e.message}" if e.field else e.message
                                                 for e in self.errors)

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "errors": [{"field": e.field, "message": e.message} for e in self.errors],
                "row": self.source}


@dataclass
class ImportReport:
    read: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)

    def summary(self) -> str:
        return (f"read {self.read} rows: {self.accepted} accepted, {self.duplicates} duplicates, "
                f"{len(self.rejected)} rejected")


class _RowProblem(ValueError):
    def __init__(self, *errors: FieldError) -> None:
        super().__init__("; ".join(error.message for error in errors))
        self.errors = errors


def _problem(column: str, message: str) -> _RowProblem:
    return _RowProblem(FieldError(column, message))


# ---------------------------------------------------------------------------------------------- the file


def open_history(path: Path, *, format: HistoryFormat | None = None, default_channel: str | None = None,
                 timezone: str = "UTC") -> HistoryFile:
    """Check the whole file (readable, UTF-8, a known layout) and count its rows; raises InvalidInput naming it."""
    name = str(path)
    chosen = format or FORMATS.get(path.suffix.lower())
    if chosen is None:
        raise InvalidInput.field(name, "cannot tell the format from the extension; give --format jsonl or csv")
    try:
        zone: tzinfo = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput.field("--timezone", f"'{timezone}' is not a time zone (e.g. UTC, Europe/Amsterdam)"
                                 ) from None
    try:
        if chosen == "csv":
            columns, delimiter, rows = _scan_csv(path)
            checked = HistoryFile(path, chosen, rows, default_channel, zone, columns, delimiter)
        else:
            checked = HistoryFile(path, chosen, _scan_jsonl(path), default_channel, zone)
    except OSError as error:
        raise InvalidInput.field(name, error.strerror or str(error)) from None
    except UnicodeDecodeError as error:
        raise InvalidInput.field(name, f"is not UTF-8 text ({error.reason}); save it as UTF-8") from None
    except _RowProblem as problem:
        raise InvalidInput.field(name, problem.errors[0].message) from None
    if checked.rows == 0:
        raise InvalidInput.field(name, "holds no rows")
    return checked


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        yield from handle


def _scan_jsonl(path: Path) -> int:
    rows = 0
    for number, text in enumerate(_lines(path), start=1):
        if not text.strip():
            continue
        if rows == 0 and not _is_json_object(text):
            raise _problem("", f"line {number} is not a JSON object (a CSV file needs --format csv)")
        rows += 1
    return rows


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _csv_delimiter(header: str) -> str:
    """The separator of the header line: whichever of , ; and tab it uses most (exports from Dutch Excel use ;)."""
    return max((",", ";", "\t"), key=header.count)


def _scan_csv(path: Path) -> tuple[tuple[str, ...], str, int]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        delimiter = _csv_delimiter(handle.readline())
    records = _csv_records(path, delimiter)
    try:
        _, header = next(records)
    except StopIteration:
        raise _problem("", "is empty; a CSV file starts with a header row naming its columns") from None
    columns = _check_header(header)
    return columns, delimiter, sum(1 for _ in records)


def _csv_records(path: Path, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, its values), skipping blank lines."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        start = 1
        try:
            for values in reader:
                if any(value.strip() for value in values):
                    yield start, values
                start = reader.line_num + 1
        except csv.Error as error:
            raise _problem("", f"line {start}: {error}") from None


def _check_header(header: list[str]) -> tuple[str, ...]:
    columns = tuple(column.strip().lower() for column in header)
    unknown = [column for column in columns if column not in COLUMNS]
    if unknown:
        raise _problem("", f"unknown column '{unknown[0]}'; the columns are {', '.join(COLUMNS)}")
    repeated = sorted({column for column in columns if columns.count(column) > 1})
    if repeated:
        raise _problem("", f"column '{repeated[0]}' appears twice")
    if not set(columns) & set(IDENTIFIER_COLUMNS):
        raise _problem("", f"no identifier column; it needs at least one of {', '.join(IDENTIFIER_COLUMNS)}")
    return columns


# ---------------------------------------------------------------------------------------------- rows


def read_rows(history: HistoryFile) -> Iterator[Row]:
    """The rows of a checked file, each mapped to an event (with a stable id) or to what is wrong with it."""
    if history.format == "jsonl":
        for number, text in enumerate(_lines(history.path), start=1):
            if text.strip():
                yield _jsonl_row(number, text.rstrip("\r\n"), history)
        return
    records = _csv_records(history.path, history.delimiter)
    next(records)
    for number, values in records:
        yield _csv_row(number, values, history)


def _jsonl_row(number: int, text: str, history: HistoryFile) -> Row:
    try:
        return Row(number, text, jsonl_event(text, default_channel=history.default_channel))
    except _RowProblem as problem:
        return Row(number, text, None, problem.errors)


def _csv_row(number: int, values: list[str], history: HistoryFile) -> Row:
    if len(values) != len(history.columns):
        return Row(number, values, None, (FieldError("", f"has {len(values)} fields; the header has "
                                                         f"{len(history.columns)}"),))
    record = dict(zip(history.columns, values, strict=True))
    try:
        event = csv_event(record, default_channel=history.default_channel, timezone=history.timezone)
    except _RowProblem as problem:
        return Row(number, record, None, problem.errors)
    return Row(number, record, event)


def jsonl_event(text: str, *, default_channel: str | None) -> dict[str, Any]:
    """One JSON Lines row as an event: the default channel filled in and a stable id when it has none."""
    try:
        event = json.loads(text)
    except ValueError as error:
        raise _problem("", f"is not valid JSON: {error}") from None
    if not isinstance(event, dict):
        raise _problem("", "is not a JSON object")
    if event.get("channel") is None and default_channel is not None:
        event["channel"] = default_channel
    if event.get("id") is None:
        event["id"] = stable_event_id(event)
    return event


def csv_event(record: dict[str, str], *, default_channel: str | None, timezone: tzinfo) -> dict[str, Any]:
    """One CSV row (column → text) as an event shaped as in ``POST /events``; raises on values it cannot read."""
    values = {column: value.strip() for column, value in record.items() if value.strip()}
    channel = values.get("channel", default_channel)
    if channel is None:
        raise _problem("channel", "is empty and no default channel (--channel) was given")
    if "timestamp" not in values:
        raise _problem("timestamp", "is required: history needs to know when each event happened")
    event: dict[str, Any] = {
        "type": values.get("type", DEFAULT_TYPE), "channel": channel,
        "timestamp": _timestamp(values["timestamp"], timezone),
        "identifiers": _identifiers(values), "properties": _properties(values)}
    event["id"] = values.get("id") or stable_event_id(event)
    return event


def _timestamp(text: str, timezone: tzinfo) -> str:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise _problem("timestamp", f"'{text}' is not a date or date-time (e.g. 2024-03-09, 2024-03-09 14:05 or "
                                    "2024-03-09T14:05:00+01:00)") from None
    return (value if value.tzinfo else value.replace(tzinfo=timezone)).isoformat()


def _identifiers(values: dict[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {kind: values[kind] for kind in ("email", "phone", "device_id", "loyalty_id")
                             if kind in values}
    if "external_ids" in values:
        found["external_ids"] = dict(_pair(part, "external_ids", "channel:id")
                                     for part in _parts(values["external_ids"]))
    if "verified" in values:
        found["verified"] = _parts(values["verified"])
    return found


def _properties(values: dict[str, str]) -> dict[str, Any]:
    properties: dict[str, Any] = {column: values[column] for column in PROPERTY_COLUMNS if column in values}
    if "amount" in values:
        currency = values.get("currency", "").upper()
        if not currency:
            raise _problem("currency", "is needed to read the amount")
        properties["total"] = {"amount": minor_units(values["amount"], currency), "currency": currency}
    if "lines" in values:
        properties["lines"] = [_line(part) for part in _parts(values["lines"])]
    return properties


def _parts(text: str) -> list[str]:
    return [part.strip() for part in text.split(";") if part.strip()]


def _pair(text: str, column: str, shape: str) -> tuple[str, str]:
    key, separator, value = text.partition(":")
    if not separator or not key.strip() or not value.strip():
        raise _problem(column, f"'{text}' is not {shape}")
    return key.strip(), value.strip()


def _line(text: str) -> dict[str, Any]:
    sku, separator, quantity = text.rpartition(":")
    if not separator or not quantity.strip().isdigit():
        return {"sku": text, "quantity": 1}
    return {"sku": sku.strip(), "quantity": int(quantity)}


def minor_units(text: str, currency: str) -> int:
    """``24.95`` (or ``24,95``) EUR → 2495: exact, refusing more decimals than the currency has."""
    if not _AMOUNT.match(text):
        raise _problem("amount", f"'{text}' is not an amount like 24.95 (no signs, spaces or thousands separators)")
    digits = get_currency_precision(currency)
    minor = Decimal(text.replace(",", ".")).scaleb(digits)
    if minor != minor.to_integral_value():
        raise _problem("amount", f"'{text}' has more decimals than {currency} has ({digits})")
    return int(minor)


def stable_event_id(event: dict[str, Any]) -> str:
    """An id that is the same whenever the same row is imported: an order's from (channel, order id), else content."""
    properties = event.get("properties")
    if event.get("type") == DEFAULT_TYPE and isinstance(properties, dict) and properties.get("order_id"):
        key: list[Any] = ["order", event.get("channel"), properties["order_id"]]
    else:
        key = ["event", event]
    text = json.dumps(key, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return EVENT_ID_PREFIX + hashlib.sha256(text.encode()).hexdigest()[:32]


# ---------------------------------------------------------------------------------------------- recording


def import_history(database: Database, history: HistoryFile, *, batch_size: int, region: str,
                   guards: Sequence[str], clock: Clock,
                   advance: Callable[[int], None] = lambda rows: None) -> ImportReport:
    """Record every row of a checked file through the same intake and identity resolution as ``POST /events``.

    Each batch is its own transaction; ``advance`` is told how many rows each one took.
    """
    with database.read() as session:
        known = channels.channel_codes(session)
    if history.default_channel is not None and history.default_channel not in known:
        raise InvalidInput.field("--channel", f"channel '{history.default_channel}' is not registered")
    report = ImportReport()
    batch: list[Row] = []
    for row in read_rows(history):
        batch.append(row)
        if len(batch) == batch_size:
            _record_batch(database, batch, report, known=known, region=region, guards=guards, clock=clock)
            advance(len(batch))
            batch = []
    if batch:
        _record_batch(database, batch, report, known=known, region=region, guards=guards, clock=clock)
        advance(len(batch))
    return report


def _record_batch(database: Database, rows: Sequence[Row], report: ImportReport, *, known: frozenset[str],
                  region: str, guards: Sequence[str], clock: Clock) -> None:
    report.read += len(rows)
    mapped = [row for row in rows if row.event is not None]
    problems = {row.line: row.errors for row in rows if row.event is None}
    prepared, rejections = prepare_batch([row.event for row in mapped if row.event is not None],
                                         received_at=clock.now(), region=region, only_channel=None,
                                         known_channels=known)
    for rejection in rejections:
        row = mapped[rejection.index]
        problems[row.line] = tuple(_located(error, row) for error in rejection.errors)
    if prepared:
        with database.write() as session:
            recorded = service.record_events(session, events=prepared, guards=guards, clock=clock)
        report.duplicates += len(recorded.duplicates)
        report.accepted += len(prepared) - len(recorded.duplicates)
    report.rejected.extend(RejectedRow(row.line, problems[row.line], row.source) for row in rows
                           if row.line in problems)


def _located(error: FieldError, row: Row) -> FieldError:
    """The intake's ``events[i].path`` as the row's own path; for a CSV row, the column it came from."""
    path = _EVENT_PREFIX.sub("", error.field)
    if isinstance(row.source, dict):  # a CSV row (a JSON Lines row is kept as its text)
        path = _csv_column(path)
    return FieldError(path, error.message)


def _csv_column(path: str) -> str:
    for prefix, column in _CSV_COLUMN_OF:
        if path.startswith(prefix):
            return column or re.split(r"[.\[]", path.removeprefix(prefix))[0]
    return path


def write_rejects(path: Path, rejected: Sequence[RejectedRow]) -> None:
    """Every rejected row as JSON Lines (line number, errors, the row as read); an empty list empties the file."""
    try:
        with path.open("w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(row.as_json(), ensure_ascii=False) + "\n" for row in rejected)
    except OSError as error:
        raise InvalidInput.field("--rejects", f"{path}: {error.strerror or error}") from None
