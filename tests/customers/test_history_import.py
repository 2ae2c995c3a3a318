"""``omniloom customers import``: purchase history and events from CSV or JSON Lines, through the real intake."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from omniloom.customers import history, identifiers, service
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from omniloom.platform.errors import InvalidInput
from tests.checks import counts
from tests.cli.test_commands import run
from tests.conftest import START, DatabaseFactory
from tests.factories import make_channel

CUSTOMER_TABLES = ("customer_profiles", "customer_identifiers", "customer_events", "customer_purchases")
NOTHING = dict.fromkeys(CUSTOMER_TABLES, 0)

PURCHASES_CSV = """\
order_id,timestamp,channel,email,loyalty_id,phone,amount,currency,lines
W-1001,2024-03-09 14:05,web,Anna.Bakker@Example.com,,,"24,95",EUR,WW-0001-SEAM:1
P-2001,2024-03-10T11:00:00+01:00,pos,,L-100,06 12345678,59.90,EUR,WW-0002-NAVL:2;WW-0003-RUS
P-2002,2024-03-11,pos,,L-100,,12.505,EUR,
W-1002,,web,anna.bakker@example.com,,,10.00,EUR,
W-1003,2024-03-12,web,not-an-address,,,10.00,EUR,
W-1004,2024-03-12,shop,piet@example.com,,,10.00,EUR,
W-1005,2024-03-12,web,piet@example.com,,,10.00
W-1006,2024-03-12,web,piet@example.com,,,,EUR,

W-1001,2024-03-09 14:05,web,Anna.Bakker@Example.com,,,"24,95",EUR,WW-0001-SEAM:1
"""

IDENTIFY_CSV = """\
type;channel;timestamp;email;loyalty_id;first_name;last_name
identify;web;2024-04-01T09:00:00Z;anna.bakker@example.com;L-100;Anna;Bakker
"""


@pytest.fixture
def shop(database_factory: DatabaseFactory) -> tuple[str, Database]:
    """A fresh committed database with channels ``web`` and ``pos``: its URL and a Database on it."""
    url = database_factory.create()
    database = Database(database_factory.engine_for(url))
    with database.write() as session:
        for code in ("web", "pos"):
            make_channel(session, code=code, type=code, clock=FrozenClock(START))  # type: ignore[arg-type]
    return url, database


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def output_lines(stdout: str) -> list[str]:
    """What the command printed after its progress bar."""
    lines = stdout.strip().splitlines()
    return lines[next(i for i, line in enumerate(lines) if line.startswith("read ")):]


# Row mapping (pure)


def test_a_csv_row_becomes_an_event_in_minor_units_and_the_given_time_zone() -> None:
    row = {"order_id": "W-1001", "timestamp": "2024-03-09 14:05", "channel": "", "email": " Anna@Example.com ",
           "external_ids": "pos:C-1042; bol:buyer-77", "verified": "email", "amount": "24,95", "currency": "eur",
           "lines": "WW-0001-SEAM:2;GIFT-CARD", "phone": "", "type": ""}
    event = history.csv_event(row, default_channel="web", timezone=ZoneInfo("Europe/Amsterdam"))
    assert event == {
        "id": history.stable_event_id({key: value for key, value in event.items() if key != "id"}),
        "type": "order_completed", "channel": "web", "timestamp": "2024-03-09T14:05:00+01:00",
        "identifiers": {"email": "Anna@Example.com", "external_ids": {"pos": "C-1042", "bol": "buyer-77"},
                        "verified": ["email"]},
        "properties": {"order_id": "W-1001", "total": {"amount": 2495, "currency": "EUR"},
                       "lines": [{"sku": "WW-0001-SEAM", "quantity": 2}, {"sku": "GIFT-CARD", "quantity": 1}]}}
    assert event["id"].startswith("hist_") and len(event["id"]) == 37


@pytest.mark.parametrize(("text", "currency", "minor"), [
    ("24.95", "EUR", 2495), ("24,95", "EUR", 2495), ("12.5", "EUR", 1250), ("7", "EUR", 700), ("0.00", "USD", 0),
    ("1299", "JPY", 1299), ("1.234", "KWD", 1234)])
def test_amounts_are_converted_exactly(text: str, currency: str, minor: int) -> None:
    assert history.minor_units(text, currency) == minor


@pytest.mark.parametrize(("text", "currency", "message"), [
    ("12.505", "EUR", "'12.505' has more decimals than EUR has (2)"),
    ("1.5", "JPY", "'1.5' has more decimals than JPY has (0)"),
    ("-3.00", "EUR", "'-3.00' is not an amount like 24.95 (no signs, spaces or thousands separators)"),
    ("1,234.50", "EUR", "'1,234.50' is not an amount like 24.95 (no signs, spaces or thousands separators)"),
    ("€5", "EUR", "'€5' is not an amount like 24.95 (no signs, spaces or thousands separators)")])
def test_amounts_that_cannot_be_read_exactly_are_refused(text: str, currency: str, message: str) -> None:
    row = {"order_id": "W-1", "timestamp": "2024-03-09", "email": "a@example.com", "amount": text,
           "currency": currency}
    with pytest.raises(ValueError) as error:
        history.csv_event(row, default_channel="web", timezone=UTC)
    assert str(error.value) == message


def test_event_ids_are_stable_per_order_and_per_content() -> None:
    def order(channel: str, order_id: str, amount: int) -> dict[str, object]:
        return {"type": "order_completed", "channel": channel, "identifiers": {"email": "a@example.com"},
                "properties": {"order_id": order_id, "total": {"amount": amount, "currency": "EUR"}}}
    view = {"type": "product_view", "channel": "web", "identifiers": {"device_id": "d-1"},
            "properties": {"sku": "WW-1"}, "timestamp": "2024-03-09T10:00:00Z"}
    # An order is known by its channel and order id (as its purchase is), so a corrected re-export is no new order.
    assert history.stable_event_id(order("web", "W-1", 100)) == history.stable_event_id(order("web", "W-1", 999))
    assert history.stable_event_id(order("web", "W-1", 100)) != history.stable_event_id(order("pos", "W-1", 100))
    assert history.stable_event_id(view) == history.stable_event_id(json.loads(json.dumps(view)))
    assert history.stable_event_id(view) != history.stable_event_id({**view, "timestamp": "2024-03-09T10:00:01Z"})


@pytest.mark.parametrize(("name", "content", "message"), [
    ("empty.csv", "", "is empty; a CSV file starts with a header row naming its columns"),
    ("blank.csv", "email,timestamp\n\n", "holds no rows"),
    ("typo.csv", "email,timestmp\na@example.com,2024-01-01\n",
     "unknown column 'timestmp'; the columns are " + ", ".join(history.COLUMNS)),
    ("twice.csv", "email,Email\na@example.com,b@example.com\n", "column 'email' appears twice"),
    ("nobody.csv", "order_id,amount,currency\nW-1,5,EUR\n",
     "no identifier column; it needs at least one of email, phone, device_id, loyalty_id, external_ids"),
    ("quote.csv", 'email,timestamp\n"a@example.com,2024-01-01\n' + "b@example.com,2024-01-01\n" * 6000,
     "line 2: field larger than field limit (131072)"),
    ("events.jsonl", "email,timestamp\na@example.com,2024-01-01\n",
     "line 1 is not a JSON object (a CSV file needs --format csv)"),
    ("events.txt", "{}\n", "cannot tell the format from the extension; give --format jsonl or csv")])
def test_files_that_cannot_be_read_are_refused_whole(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = write(tmp_path / name, content)
    with pytest.raises(InvalidInput) as error:
        history.open_history(path)
    assert error.value.detail == f"{path}: {message}"


def test_a_file_that_is_not_utf8_or_not_there_is_refused(tmp_path: Path) -> None:
    latin = tmp_path / "latin1.csv"
    latin.write_bytes("email,timestamp\nfrançois@example.com,2024-01-01\n".encode("latin-1"))
    with pytest.raises(InvalidInput) as error:
        history.open_history(latin)
    assert error.value.detail == f"{latin}: is not UTF-8 text (invalid continuation byte); save it as UTF-8"
    with pytest.raises(InvalidInput) as error:
        history.open_history(tmp_path / "missing.csv")
    assert error.value.detail == f"{tmp_path / 'missing.csv'}: No such file or directory"
    with pytest.raises(InvalidInput) as error:
        history.open_history(write(tmp_path / "ok.csv", "email\na@example.com\n"), timezone="Mars/Olympus")
    assert error.value.detail == "--timezone: 'Mars/Olympus' is not a time zone (e.g. UTC, Europe/Amsterdam)"


# The command


def test_importing_purchase_history_records_the_good_rows_and_names_the_bad_ones(
        shop: tuple[str, Database], tmp_path: Path) -> None:
    url, database = shop
    path = write(tmp_path / "purchases.csv", PURCHASES_CSV)
    result = run(url, "customers", "import", str(path), "--timezone", "Europe/Amsterdam", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert output_lines(result.stdout) == [
        "read 9 rows: 2 accepted, 1 duplicates, 6 rejected",
        "line 4: amount: '12.505' has more decimals than EUR has (2)",
        "line 5: timestamp: is required: history needs to know when each event happened",
        "line 6: email: An email address must have an @-sign.",
        "line 7: channel: channel 'shop' is not registered",
        "line 8: has 7 fields; the header has 9",
        "line 9: amount: Field required",
    ]
    assert counts(database, CUSTOMER_TABLES) == {"customer_profiles": 2, "customer_identifiers": 3,
                                                 "customer_events": 2, "customer_purchases": 2}
    with database.read() as session:
        anna = service.find_by_identifier(session, identifiers.email("anna.bakker@example.com"))
        [purchase] = service.purchases(session, anna.id)
        assert (purchase.order_id, purchase.amount, purchase.currency, purchase.items) == ("W-1001", 2495, "EUR", 1)
        assert purchase.occurred_at.isoformat() == "2024-03-09T13:05:00+00:00"
        store = service.find_by_identifier(session, identifiers.loyalty("L-100"))
        assert [(p.order_id, p.amount, p.items) for p in service.purchases(session, store.id)] == [
            ("P-2001", 5990, 3)]
        assert service.find_by_identifier(session, identifiers.phone("0612345678", region="NL")).id == store.id

    again = run(url, "customers", "import", str(path), "--timezone", "Europe/Amsterdam", cwd=tmp_path)
    assert output_lines(again.stdout)[0] == "read 9 rows: 0 accepted, 3 duplicates, 6 rejected"
    assert counts(database, CUSTOMER_TABLES)["customer_events"] == 2

    # A later export links the web shopper to the loyalty card: one customer with both purchases.
    linked = run(url, "customers", "import", str(write(tmp_path / "people.csv", IDENTIFY_CSV)), cwd=tmp_path)
    assert output_lines(linked.stdout) == ["read 1 rows: 1 accepted, 0 duplicates, 0 rejected"]
    with database.read() as session:
        anna = service.find_by_identifier(session, identifiers.email("anna.bakker@example.com"))
        assert [p.order_id for p in service.purchases(session, anna.id)] == ["W-1001", "P-2001"]
        assert anna.attributes == {"first_name": "Anna", "last_name": "Bakker"}


def test_json_lines_across_batches_with_a_rejects_file(shop: tuple[str, Database], tmp_path: Path) -> None:
    url, database = shop
    view = {"type": "product_view", "identifiers": {"device_id": "d-1"}, "properties": {"sku": "WW-1"},
            "timestamp": "2024-03-09T10:00:00Z"}
    lines = [json.dumps(view), "", json.dumps({**view, "channel": "pos", "type": "store_visit"}),
             "{not json", json.dumps([view]), json.dumps(view),
             json.dumps({**view, "identifiers": {"device_id": "d-2", "email": "x"}}),
             json.dumps({**view, "id": "given-1", "properties": {"sku": "WW-2"}})]
    lines += [json.dumps({**view, "identifiers": {"device_id": "null"}})] * 22
    path = write(tmp_path / "events.jsonl", "\n".join(lines) + "\n")
    rejects = tmp_path / "rejects.jsonl"
    result = run(url, "customers", "import", str(path), "--channel", "web", "--batch-size", "2",
                 "--rejects", str(rejects), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    printed = output_lines(result.stdout)
    assert printed[:5] == [
        "read 29 rows: 3 accepted, 1 duplicates, 25 rejected",
        "line 4: is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        "line 5: is not a JSON object",
        "line 7: identifiers.email: An email address must have an @-sign.",
        "line 9: identifiers.device_id: 'null' is a placeholder, not an identifier"]
    assert len(printed) == 1 + 20 + 1 and printed[-1] == f"wrote 25 rejected rows to {rejects}"
    written = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [row["line"] for row in written] == [4, 5, 7, *range(9, 31)]
    assert written[0] == {"line": 4, "row": "{not json", "errors": [{"field": "", "message": (
        "is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)")}]}
    assert counts(database, CUSTOMER_TABLES)["customer_events"] == 3
    with database.read() as session:
        device = service.find_by_identifier(session, identifiers.device("d-1"))
        events, _ = service.timeline(session, device.id, limit=10, cursor=None)
        assert sorted((e.type, e.channel, e.event_id.startswith("hist_")) for e in events) == [
            ("product_view", "web", False), ("product_view", "web", True), ("store_visit", "pos", True)]

    without_file = run(url, "customers", "import", str(path), "--channel", "web", cwd=tmp_path)
    printed = output_lines(without_file.stdout)
    assert printed[0] == "read 29 rows: 0 accepted, 4 duplicates, 25 rejected"
    assert printed[-1] == "... and 5 more (--rejects FILE writes them all)"


def test_a_file_that_cannot_be_imported_is_a_one_line_error_and_writes_nothing(
        shop: tuple[str, Database], tmp_path: Path) -> None:
    url, database = shop
    write(tmp_path / "typo.csv", "email,timestmp\na@example.com,2024-01-01\n")
    write(tmp_path / "good.csv", "email,timestamp,order_id,amount,currency\na@example.com,2024-01-01,W-1,5,EUR\n")
    refusals = {
        ("typo.csv",): "error: typo.csv: unknown column 'timestmp'; the columns are " + ", ".join(history.COLUMNS),
        ("missing.jsonl",): "error: missing.jsonl: No such file or directory",
        ("good.csv", "--channel", "shop"): "error: --channel: channel 'shop' is not registered",
        ("good.csv", "--channel", "web", "--rejects", "no/such/dir/rejects.jsonl"):
            "error: --rejects: no/such/dir/rejects.jsonl: No such file or directory"}
    for args, message in refusals.items():
        result = run(url, "customers", "import", *args, cwd=tmp_path)
        assert (result.returncode, result.stderr.strip().splitlines()) == (1, [message]), args
    too_big = run(url, "customers", "import", "good.csv", "--channel", "web", "--batch-size", "1001", cwd=tmp_path)
    assert too_big.returncode == 2 and "Invalid value for '--batch-size'" in too_big.stderr
    assert counts(database, CUSTOMER_TABLES) == NOTHING
