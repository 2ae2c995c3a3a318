"""API keys are stored hashed; unknown, missing and revoked keys get 401; roles are parsed strictly."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from omniloom.platform.auth import ApiKey, Principal, check_role, create_api_key, revoke_api_key
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from omniloom.platform.errors import Forbidden, InvalidInput

PROBLEM = "application/problem+json"


def test_only_the_hash_of_a_key_is_stored(database: Database, clock: FrozenClock) -> None:
    with database.write() as session:
        key, secret = create_api_key(session, role="store:AMS-01", name="till 3", clock=clock)
    with database.read() as session:
        stored = session.scalars(select(ApiKey).where(ApiKey.id == key.id)).one()
    assert secret.startswith("olk_") and len(secret) > 40
    assert secret not in (stored.key_hash, stored.hint, stored.name)
    assert stored.role == "store:AMS-01"


@pytest.mark.parametrize("header", [None, "Bearer olk_unknown", "Basic dXNlcjpwYXNz", "Bearer"])
def test_requests_without_a_valid_key_are_401(client: TestClient, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/locations", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM


def test_a_revoked_key_stops_working(client: TestClient, database: Database, clock: FrozenClock) -> None:
    with database.write() as session:
        key, secret = create_api_key(session, role="admin", name="ops", clock=clock)
    assert client.get("/api/v1/locations", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    with database.write() as session:
        revoke_api_key(session, key_id=key.id, clock=clock)
    assert client.get("/api/v1/locations", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


@pytest.mark.parametrize("role", ["admin", "store:AMS-01", "channel:web", "customer:cus_01J0"])
def test_valid_roles(role: str) -> None:
    assert check_role(role) == role


@pytest.mark.parametrize("role", ["root", "store:", "store", "channel:bad code", "admin:x", ""])
def test_invalid_roles_name_the_field(role: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        check_role(role)
    assert raised.value.errors[0].field == "role"


def test_principal_scopes() -> None:
    store = Principal(key_id="key_1", role="store:AMS-01")
    store.require_store("AMS-01")
    store.require_staff()
    with pytest.raises(Forbidden):
        store.require_store("UTR-02")
    with pytest.raises(Forbidden):
        store.require_admin()
    channel = Principal(key_id="key_2", role="channel:web")
    channel.require_channel("web")
    with pytest.raises(Forbidden):
        channel.require_channel("app")
    with pytest.raises(Forbidden):
        channel.require_staff()
    admin = Principal(key_id="key_3", role="admin")
    admin.require_channel("anything")
    admin.require_store("anywhere")
