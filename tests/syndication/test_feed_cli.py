"""``omniloom feeds export`` and ``omniloom feeds validate`` as a user runs them: real processes, real databases."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from tests.conftest import DatabaseFactory
from tests.factories import admin_headers
from tests.syndication import feed_catalog

OMNILOOM = shutil.which("omniloom") or "omniloom"


def run(url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "OMNILOOM_DATABASE_URL": url}
    return subprocess.run([OMNILOOM, *args], env=environment, cwd=cwd, capture_output=True, text=True, timeout=300)


def catalog_in(database_factory: DatabaseFactory, app_for: Callable[[Database], TestClient],
               clock: FrozenClock) -> str:
    url = database_factory.create()
    database = Database(database_factory.engine_for(url))
    admin = TestClient(app_for(database).app, base_url="http://testserver/api/v1", raise_server_exceptions=False)
    admin.headers.update(admin_headers(database, clock=clock))
    feed_catalog.build(admin)
    created = admin.post("/products", json={
        "title": "Scarf " + "x" * 160, "description": "Wool scarf", "brand": "Loom",
        "media": [{"url": "https://cdn.example.com/scarf.jpg"}],
        "variants": [{"sku": "SCARF-1", "mpn": "LM-SC-1", "price": {"amount": 2999, "currency": "EUR"}}]})
    assert created.status_code == 201, created.text
    database.engine.dispose()
    return url


def test_export_writes_the_feed_then_a_delta_from_its_cursor(database_factory: DatabaseFactory,
                                                             app_for: Callable[[Database], TestClient],
                                                             clock: FrozenClock, tmp_path: Path) -> None:
    url = catalog_in(database_factory, app_for, clock)

    full = run(url, "feeds", "export", "google", "--format", "google_tsv", "--out", "google.tsv", cwd=tmp_path)

    assert full.returncode == 0, full.stderr
    rows = list(csv.DictReader((tmp_path / "google.tsv").open(encoding="utf-8"), delimiter="\t"))
    assert [row["id"] for row in rows] == ["MUG-1", "TEE-RED-L", "TEE-RED-M"]
    summary = full.stderr.strip().splitlines()[-1]
    assert summary.startswith("wrote 3 items to google.tsv; left out 1 with errors (omniloom feeds validate google)")
    cursor = summary.rsplit("next cursor ", 1)[1]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["google.tsv"]

    delta = run(url, "feeds", "export", "google", "--format", "json", "--since", cursor, cwd=tmp_path)
    assert delta.returncode == 0, delta.stderr
    assert delta.stdout == '{"items": []}\n'


def test_validate_prints_the_problems_and_fails_on_errors(database_factory: DatabaseFactory,
                                                        app_for: Callable[[Database], TestClient],
                                                        clock: FrozenClock, tmp_path: Path) -> None:
    url = catalog_in(database_factory, app_for, clock)

    result = run(url, "feeds", "validate", "google", cwd=tmp_path)

    assert result.returncode == 1
    assert "SCARF-1" in result.stdout and "title" in result.stdout
    assert result.stdout.strip().splitlines()[-1].startswith("4 items: 1 errors")


def test_bad_input_is_a_one_line_error_and_writes_nothing(database_factory: DatabaseFactory,
                                                          app_for: Callable[[Database], TestClient],
                                                          clock: FrozenClock, tmp_path: Path) -> None:
    url = catalog_in(database_factory, app_for, clock)

    unknown = run(url, "feeds", "export", "nope", "--out", "nope.tsv", cwd=tmp_path)
    bad_cursor = run(url, "feeds", "export", "google", "--since", "zzz", "--out", "delta.tsv", cwd=tmp_path)

    assert (unknown.returncode, unknown.stderr.strip()) == (1, "error: channel 'nope' does not exist")
    assert bad_cursor.returncode == 1
    assert bad_cursor.stderr.strip() == ("error: since: is not a cursor this channel's feed returned "
                                         "(Omniloom-Feed-Cursor)")
    assert list(tmp_path.iterdir()) == []
