"""HTTP plumbing shared by every module's router: dependencies, auth and problem+json rendering."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import State
from starlette.exceptions import HTTPException as StarletteHTTPException

from omniloom.platform.auth import Principal, find_principal
from omniloom.platform.clock import Clock
from omniloom.platform.db import Database
from omniloom.platform.errors import FieldError, InvalidInput, MalformedRequest, OmniloomError, Unauthenticated
from omniloom.platform.pagination import DEFAULT_LIMIT, MAX_LIMIT
from omniloom.platform.settings import Settings

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("omniloom.http")


class KeyCache:
    """Verified keys, trusted for a few seconds so a hot endpoint does not look its key up every time."""

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl = ttl_seconds
        self._entries: dict[str, tuple[float, Principal]] = {}

    def get(self, secret: str) -> Principal | None:
        entry = self._entries.get(secret)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, secret: str, principal: Principal) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[secret] = (time.monotonic() + self.ttl, principal)


# The dependencies are ``async def`` so FastAPI runs them on the event loop instead of handing each one to a
# worker thread; only a key-cache miss does I/O, and that goes to the thread pool.
async def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


async def get_settings_dependency(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


class ApiKeyBearer(HTTPBearer):
    """The ``Authorization: Bearer <API key>`` scheme, resolved to the calling principal (401 when missing or
    unknown) in one dependency: FastAPI solves every dependency anew on each request, so fewer is faster."""

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]  # the principal, not the key
        return await principal_of(request.app.state, request.headers.get("Authorization"))


authenticate = ApiKeyBearer(auto_error=False, scheme_name="HTTPBearer",
                            description="An Omniloom API key: `Authorization: Bearer olk_...`")
"""The caller behind the bearer key; 401 when it is missing or unknown. Only a key-cache miss does I/O."""


async def principal_of(state: State, authorization: str | None) -> Principal:
    """The principal of an ``Authorization`` header's bearer key, from the key cache or else the database (on a
    worker thread); raises Unauthenticated when there is no bearer key or it is unknown or revoked."""
    scheme, secret = get_authorization_scheme_param(authorization)
    if scheme.lower() != "bearer" or not secret:
        raise Unauthenticated("send an API key as 'Authorization: Bearer <key>'")
    cache: KeyCache = state.key_cache
    principal = cache.get(secret)
    if principal is None:
        principal = await run_in_threadpool(_look_up_key, state.database, secret)
        if principal is None:
            raise Unauthenticated("the API key is unknown or revoked")
        cache.put(secret, principal)
    return principal


def _look_up_key(database: Database, secret: str) -> Principal | None:
    with database.read() as session:
        return find_principal(session, secret)


def roles(*kinds: str, action: str) -> Any:
    """A dependency admitting only keys of these role kinds: ``Annotated[Principal, roles("admin", ...)]``."""
    async def dependency(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        principal.require_kind(*kinds, action=action)
        return principal
    return Depends(dependency)


async def _channel_in_path(code: str, principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    principal.require_channel(code)
    return principal


DatabaseDep = Annotated[Database, Depends(get_database)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_settings_dependency)]
PrincipalDep = Annotated[Principal, Depends(authenticate)]
AdminDep = Annotated[Principal, roles("admin", action="do this")]
ChannelInPathDep = Annotated[Principal, Depends(_channel_in_path)]
"""Admin, or the key of the channel named by the ``{code}`` path parameter."""
LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")]
CursorQuery = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]
DEFAULT_PAGE_LIMIT = DEFAULT_LIMIT


class FieldProblem(BaseModel):
    field: str = Field(examples=["variants[0].gtin"])
    message: str = Field(examples=["check digit should be 7, not 1"])


class Problem(BaseModel):
    """An RFC 9457 problem document; members beyond these carry details of the problem (e.g. short ``lines``)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["https://omniloom.dev/problems/validation"])
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldProblem] | None = None


_PROBLEM_STATUSES = {400: "Malformed request", 401: "Missing, unknown or revoked API key",
                     403: "The key's role does not allow this", 404: "Not found",
                     409: "Conflicts with the current state", 422: "Invalid input: `errors` names each field"}
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "model": Problem} for status, text in _PROBLEM_STATUSES.items()
}
"""Error responses every endpoint may give (``document_problems`` turns them into problem+json)."""


def document_problems(openapi: dict[str, Any]) -> dict[str, Any]:
    """Describe every 4xx/5xx response of an OpenAPI document as ``application/problem+json`` ``Problem``."""
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    for operations in openapi.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                if status[0] in "45":
                    response["content"] = {PROBLEM_JSON: problem}
    openapi.get("components", {}).get("schemas", {}).pop("HTTPValidationError", None)
    openapi.get("components", {}).get("schemas", {}).pop("ValidationError", None)
    return openapi


def problem_response(error: OmniloomError, request: Request) -> JSONResponse:
    return JSONResponse(error.problem(instance=request.url.path), status_code=error.status,
                        media_type=PROBLEM_JSON)


def field_path(location: tuple[int | str, ...]) -> str:
    """``("body", "variants", 0, "gtin")`` → ``variants[0].gtin``."""
    parts = list(location)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path or str(location[0] if location else "body")


def _clean_message(message: str) -> str:
    return message.removeprefix("Value error, ")


UNEXPECTED_PROBLEM = {"type": "about:blank", "title": "Internal Server Error", "status": 500,
                      "detail": "an unexpected error occurred; it has been logged"}


def validation_problem(errors: Sequence[Any]) -> OmniloomError:
    """The problem for pydantic's errors of a request: 400 for a body that is not JSON, else 422 naming each field."""
    malformed = next((error for error in errors if error.get("type") == "json_invalid"), None)
    if malformed is not None:
        message = malformed.get("ctx", {}).get("error", "malformed JSON")
        return MalformedRequest(f"the request body is not valid JSON: {message}",
                                errors=[FieldError("body", f"not valid JSON: {message}")])
    return InvalidInput.fields([FieldError(field_path(tuple(error["loc"])), _clean_message(error["msg"]))
                                for error in errors])


def install_error_handlers(app: FastAPI) -> None:
    """Render every error as RFC 9457 problem+json; an unexpected exception is the only 500."""

    @app.exception_handler(OmniloomError)
    async def _domain(request: Request, error: OmniloomError) -> JSONResponse:
        return problem_response(error, request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
        return problem_response(validation_problem(error.errors()), request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        body = {"type": "about:blank", "title": str(error.detail), "status": error.status_code,
                "detail": str(error.detail)}
        return JSONResponse(body, status_code=error.status_code, media_type=PROBLEM_JSON,
                            headers=getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(UNEXPECTED_PROBLEM, status_code=500, media_type=PROBLEM_JSON)

