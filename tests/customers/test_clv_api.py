"""Lifetime value end to end: the CDNOW sample imported with ``omniloom customers import``, fitted over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from omniloom.api import create_app
from omniloom.customers import clv, identifiers, service
from omniloom.platform.auth import create_api_key
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from omniloom.platform.settings import Settings
from tests.cli.test_commands import run
from tests.conftest import DatabaseFactory
from tests.customers.test_clv import PUBLISHED_BGNBD, PUBLISHED_GAMMA_GAMMA, lifetimes_dataset
from tests.factories import make_channel

CDNOW_END = datetime(1998, 6, 30, tzinfo=UTC)  # the last day of the sample's 78 weeks
WEEK = 7.0


def cdnow_csv(path: Path) -> Path:
    """The CDNOW sample as a purchase-history export: one order per line, the shop's customer number, dollars."""
    rows = ["external_ids,order_id,timestamp,amount,currency"]
    for number, line in enumerate(lifetimes_dataset("CDNOW_sample.txt").read_text().splitlines(), start=1):
        _, sample_index, day, _, dollars = line.split()
        rows.append(f"cdnow:{int(sample_index)},CD-{number},{day[:4]}-{day[4:6]}-{day[6:]},{dollars},USD")
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def cdnow(database_factory: DatabaseFactory, tmp_path: Path, settings: Settings) -> tuple[TestClient, Database]:
    """A database holding the CDNOW sample, imported by the command line, and an admin client on it."""
    url = database_factory.create()
    database = Database(database_factory.engine_for(url))
    clock = FrozenClock(CDNOW_END)
    with database.write() as session:
        make_channel(session, code="web", type="web", currency="USD", clock=clock)
        key = create_api_key(session, role="admin", name="analyst", clock=clock)[1]
    imported = run(url, "customers", "import", str(cdnow_csv(tmp_path / "cdnow.csv")), "--channel", "web",
                   "--batch-size", "1000", cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip().splitlines()[-1] == "read 6919 rows: 6919 accepted, 0 duplicates, 0 rejected"
    client = TestClient(create_app(settings, database=database, clock=clock), base_url="http://testserver/api/v1",
                        raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {key}"
    return client, database


def test_cdnow_imported_and_fitted_over_http_reproduces_the_published_model(
        cdnow: tuple[TestClient, Database]) -> None:
    client, database = cdnow
    response = client.post("/analytics/clv/fit", json={"calibration_end": "1997-09-30T00:00:00Z",
                                                        "time_unit": "week"})
    assert response.status_code == 201, response.text
    model = response.json()
    assert (model["customers"], model["repeat_customers"]) == (2357, 946)
    assert (model["currency"], model["time_unit"], model["horizon"]) == ("USD", "week", 52)
    for name in ("r", "alpha", "a", "b"):
        assert model["bgnbd"][name] == pytest.approx(getattr(PUBLISHED_BGNBD, name), rel=0.02), name
    for name, value in PUBLISHED_GAMMA_GAMMA.items():
        assert model["gamma_gamma"][name] == pytest.approx(value, rel=0.02), name

    # Customer 1 bought on 1 Jan, 18 Jan, 2 Aug and 12 Dec 1997 ($29.33, $29.73, $14.96, $26.48); seen on 30 June 1998.
    with database.read() as session:
        customer = service.find_by_identifier(session, identifiers.external("cdnow", "1", field="external_ids")).id
        stored = service.latest_clv_model(session)
        assert stored is not None and stored.id == model["id"]
    view = client.get(f"/customers/{customer}").json()
    assert [(p["occurred_at"][:10], p["total"]["amount"]) for p in view["purchases"]] == [
        ("1997-01-01", 2933), ("1997-01-18", 2973), ("1997-08-02", 1496), ("1997-12-12", 2648)]
    traits = view["traits"]
    bgnbd = clv.BgNbdParameters(**stored.bgnbd)
    gamma_gamma = clv.GammaGammaParameters(**stored.gamma_gamma)
    frequency, recency, age = 3, 345 / WEEK, 545 / WEEK
    assert traits["expected_purchases"] == pytest.approx(clv.expected_purchases(bgnbd, 52, frequency, recency, age))
    assert traits["probability_alive"] == pytest.approx(clv.probability_alive(bgnbd, frequency, recency, age))
    assert 0 < traits["probability_alive"] < 1
    expected_dollars = clv.expected_value(bgnbd, gamma_gamma, periods=52, frequency=frequency, recency=recency,
                                          T=age, monetary_value=(29.73 + 14.96 + 26.48) / 3)
    assert traits["expected_value"] == {"amount": round(expected_dollars * 100), "currency": "USD"}
    assert traits["horizon"] == "52 weeks"
    assert traits["monetary"] == {"amount": 2933 + 2973 + 1496 + 2648, "currency": "USD"}
    assert (traits["frequency"], traits["recency_days"]) == (4, 200)
    # Against the calibration population: four purchase days are in the top fifth (most bought once), 200 days
    # since the last purchase in the middle one (fifths bounded at 99, 198, 219 and 242 days): a loyal customer.
    recency_score, frequency_score, _ = traits["rfm"].split("-")
    assert (recency_score, frequency_score, traits["segment"]) == ("3", "5", "loyal")
