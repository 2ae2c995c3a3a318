"""The ``omniloom`` command as a user runs it: real processes, real databases, one-line errors."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import DatabaseFactory

OMNILOOM = shutil.which("omniloom") or "omniloom"


def run(url: str, *args: str, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "OMNILOOM_DATABASE_URL": url, **(env or {})}
    return subprocess.run([OMNILOOM, *args], env=environment, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def test_init_then_keys(database_factory: DatabaseFactory, tmp_path: Path) -> None:
    url = database_factory.create(migrated=False)
    assert run(url, "init", cwd=tmp_path).returncode == 0
    assert run(url, "init", cwd=tmp_path).returncode == 0, "init is repeatable"
    created = run(url, "keys", "create", "--role", "store:ST-LWD", cwd=tmp_path)
    assert created.returncode == 0
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("olk_") and " " not in key
    listed = run(url, "keys", "list", cwd=tmp_path)
    assert "store:ST-LWD" in listed.stdout and key not in listed.stdout


def test_bad_role_is_a_one_line_error(database_factory: DatabaseFactory, tmp_path: Path) -> None:
    url = database_factory.create()
    result = run(url, "keys", "create", "--role", "superuser", cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "error: role: must be admin, store:<location>, channel:<channel> or customer:<id>"]
    assert "olk_" not in result.stdout


def test_revoking_an_unknown_key_fails(database_factory: DatabaseFactory, tmp_path: Path) -> None:
    result = run(database_factory.create(), "keys", "revoke", "key_nope", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: API key 'key_nope' does not exist"


def test_commands_refuse_an_unmigrated_database(database_factory: DatabaseFactory, tmp_path: Path) -> None:
    url = database_factory.create(migrated=False)
    for command in (("serve", "--port", "1"), ("worker", "--once"), ("keys", "list")):
        result = run(url, *command, cwd=tmp_path)
        assert result.returncode == 1, command
        assert "not migrated" in result.stderr and "omniloom init" in result.stderr


def test_invalid_setting_names_the_variable(tmp_path: Path) -> None:
    result = run("sqlite:///x.db", "init", cwd=tmp_path, env={"OMNILOOM_RESERVATION_TTL_SECONDS": "soon"})
    assert result.returncode == 2
    assert result.stderr.startswith("error: OMNILOOM_RESERVATION_TTL_SECONDS:")
    assert not (tmp_path / "x.db").exists()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_demo_then_serve_answers_availability(database_factory: DatabaseFactory, tmp_path: Path) -> None:
    url = database_factory.create(migrated=False)
    demo = run(url, "demo", "--seed", "3", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr[-2000:]
    lines = demo.stdout.strip().splitlines()
    key = lines[-1]
    sku = next(line for line in lines if line.startswith("try: GET")).split("/availability/")[1].split("?")[0]
    assert "loaded 2000 customers with " in demo.stdout
    email = next(line for line in lines if line.startswith("try: GET /api/v1/customers")).split("email=")[1]
    again = run(url, "demo", cwd=tmp_path)
    assert again.returncode == 0 and "already loaded" in again.stdout

    port = free_port()
    environment = {**os.environ, "OMNILOOM_DATABASE_URL": url}
    server = subprocess.Popen([OMNILOOM, "serve", "--port", str(port)], env=environment, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        response = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/v1/availability/{sku}",
                                     params={"channel": "web"}, headers={"Authorization": f"Bearer {key}"})
                break
            except httpx.TransportError:
                if server.poll() is not None:
                    pytest.fail(server.stderr.read().decode() if server.stderr else "server exited")
                time.sleep(0.2)
        assert response is not None and response.status_code == 200, response and response.text
        body = response.json()
        assert body["sku"] == sku and body["channel"] == "web"
        assert body["available"] > 0
        assert body["available"] == sum(entry["available"] for entry in body["locations"])
        assert {entry["location"] for entry in body["locations"]} <= {
            "DC-HRV", "ST-LWD", "ST-SNK", "ST-DRA", "ST-GRO", "ST-HRL"}
        found = httpx.get(f"http://127.0.0.1:{port}/api/v1/customers", params={"email": email},
                          headers={"Authorization": f"Bearer {key}"}).json()["items"]
        customer = httpx.get(f"http://127.0.0.1:{port}/api/v1/customers/{found[0]['id']}",
                             headers={"Authorization": f"Bearer {key}"}).json()
        assert customer["purchases"] and customer["loyalty"]["tier"] in {"Brons", "Zilver", "Goud"}
    finally:
        server.terminate()
        server.wait(15)


def test_the_command_line_loads_what_a_command_runs_only_when_it_runs_it() -> None:
    """``omniloom --help`` and every command start without the HTTP server, the worker or the feature modules."""
    probe = ("import sys, omniloom.cli; "
             "print(' '.join(sorted(name for name in ('fastapi', 'uvicorn', 'nats', 'omniloom.worker', "
             "'omniloom.demo.load', 'omniloom.customers.history', 'omniloom.syndication.exports', "
             "'omniloom.syndication.connectors.sync', 'omniloom.catalog.service') if name in sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert loaded.stdout.strip() == ""
