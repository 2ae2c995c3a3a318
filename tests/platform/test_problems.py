"""Every error leaves the API as RFC 9457 problem+json naming the field at fault."""

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from omniloom.platform.errors import Conflict, InvalidInput
from omniloom.platform.http import PROBLEM_JSON, field_path, install_error_handlers


class Line(BaseModel):
    sku: str
    quantity: int = Field(gt=0)


class Order(BaseModel):
    lines: list[Line]


def make_client() -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/orders")
    def create(order: Order) -> dict[str, int]:
        if order.lines[0].sku == "TAKEN":
            raise Conflict("SKU 'TAKEN' is already in use", sku="TAKEN")
        if order.lines[0].sku == "BAD":
            raise InvalidInput.field("lines[0].sku", "is not sold here")
        return {"lines": len(order.lines)}

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    return TestClient(app, raise_server_exceptions=False)


def test_field_paths_are_dotted_with_indexes() -> None:
    assert field_path(("body", "variants", 0, "gtin")) == "variants[0].gtin"
    assert field_path(("query", "limit")) == "limit"
    assert field_path(("body",)) == "body"


def test_schema_violation_is_422_naming_the_nested_field() -> None:
    response = make_client().post("/orders", json={"lines": [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 0}]})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == 422
    assert body["type"].endswith("/validation")
    assert body["errors"] == [{"field": "lines[1].quantity", "message": "Input should be greater than 0"}]
    assert "lines[1].quantity" in body["detail"]


def test_malformed_json_is_400_problem_on_the_body() -> None:
    response = make_client().post("/orders", content=b'{"lines": [', headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["errors"][0]["field"] == "body"
    assert response.json()["type"].endswith("/malformed-request")


def test_domain_errors_keep_their_status_and_extra_members() -> None:
    client = make_client()
    conflict = client.post("/orders", json={"lines": [{"sku": "TAKEN", "quantity": 1}]})
    assert conflict.status_code == 409
    assert conflict.json() == {"type": "https://omniloom.dev/problems/conflict", "title": "Conflict", "status": 409,
                               "detail": "SKU 'TAKEN' is already in use", "instance": "/orders", "sku": "TAKEN"}
    invalid = client.post("/orders", json={"lines": [{"sku": "BAD", "quantity": 1}]})
    assert invalid.json()["errors"] == [{"field": "lines[0].sku", "message": "is not sold here"}]


def test_unknown_route_and_method_are_problems() -> None:
    client = make_client()
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM_JSON
    wrong_method = client.delete("/orders")
    assert wrong_method.status_code == 405 and wrong_method.headers["content-type"] == PROBLEM_JSON


def test_unexpected_error_is_a_500_problem_without_internals() -> None:
    response = make_client().get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_JSON
    assert "secret" not in response.text


def test_health_answers_without_a_key(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["database"] in ("sqlite", "postgresql")


def test_openapi_is_3_1_and_documents_the_key_scheme(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert "HTTPBearer" in document["components"]["securitySchemes"]
    assert "/api/v1/reservations" in document["paths"]


def test_openapi_documents_errors_as_problem_json(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    responses = document["paths"]["/api/v1/reservations"]["post"]["responses"]
    for status in ("401", "403", "409", "422"):
        assert responses[status]["content"] == {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert "HTTPValidationError" not in document["components"]["schemas"]
