"""The fast lane: the busiest endpoints answered as plain ASGI, ahead of FastAPI's routing and dependencies.

For every request FastAPI runs its middleware stack, matches the path against every route, solves each
dependency anew and renders the answer through its response machinery: about half a millisecond of CPU here,
more than a reservation's own work. An endpoint on the fast lane stays declared as a FastAPI route (which
documents it in ``/openapi.json`` and answers whatever the lane passes on); the lane answers the plain requests
with the same contract: the same key check, the same validation and problem documents, the same answers.

A lane handler looks at the headers first and returns None, before reading the body, to pass a request on to
FastAPI (e.g. one with an ``Idempotency-Key``); otherwise it returns the answer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import FastAPI
from pydantic import BaseModel, ValidationError
from starlette.datastructures import State
from starlette.types import Receive, Scope, Send

from omniloom.platform.auth import Principal
from omniloom.platform.errors import MalformedRequest, OmniloomError, PayloadTooLarge
from omniloom.platform.http import PROBLEM_JSON, UNEXPECTED_PROBLEM, principal_of, validation_problem

MAX_BODY_BYTES = 1 << 20
"""The largest request body the lane reads (413 beyond it)."""

log = logging.getLogger("omniloom.http")
Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class LaneAnswer:
    """A complete answer: status, media type and body."""

    status: int
    body: bytes
    media_type: str = "application/json"

    async def send(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status,
                    "headers": [(b"content-type", self.media_type.encode()),
                                (b"content-length", str(len(self.body)).encode())]})
        await send({"type": "http.response.body", "body": self.body})

    @classmethod
    def problem(cls, error: OmniloomError, path: str) -> LaneAnswer:
        return cls(error.status, json.dumps(error.problem(instance=path)).encode(), PROBLEM_JSON)


class LaneRequest:
    """The little a lane handler needs of a request: the application's state, headers, body, caller."""

    __slots__ = ("_headers", "_receive", "body_read", "path", "state")

    def __init__(self, state: State, scope: Scope, receive: Receive) -> None:
        self.state = state
        self.path: str = scope["path"]
        self._headers: dict[bytes, bytes] = dict(scope["headers"])  # ASGI names are lower-case
        self._receive = receive
        self.body_read = False

    def header(self, name: str) -> str | None:
        """A header's value (the last one when repeated), by lower-case name."""
        value = self._headers.get(name.encode("latin-1"))
        return None if value is None else value.decode("latin-1")

    def sends_json(self) -> bool:
        """Whether the body is declared JSON, as FastAPI requires before it parses a body."""
        media_type = (self.header("content-type") or "").partition(";")[0].strip().lower()
        return media_type == "application/json" or (media_type.startswith("application/")
                                                    and media_type.endswith("+json"))

    async def principal(self) -> Principal:
        """The caller behind the bearer key (401 when missing or unknown), exactly as the FastAPI routes check it."""
        return await principal_of(self.state, self.header("authorization"))

    async def body(self) -> bytes:
        """The whole body; 413 beyond ``MAX_BODY_BYTES``."""
        self.body_read = True
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise MalformedRequest("the client went away before sending the whole body")
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise PayloadTooLarge(f"the request body is larger than {MAX_BODY_BYTES} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    @staticmethod
    def parse(model: type[Model], body: bytes) -> Model:
        """The body validated as ``model``; the same 400/422 problems FastAPI's validation gives."""
        try:
            return model.model_validate_json(body)
        except ValidationError as error:
            raise validation_problem(error.errors(include_url=False)) from None


LaneHandler = Callable[[LaneRequest], Awaitable[LaneAnswer | None]]


class FastLaneApp(FastAPI):
    """FastAPI with a fast lane: a request whose method and path have a lane handler is offered to it first."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fast_lane: dict[tuple[str, str], LaneHandler] = {}

    def add_fast_route(self, method: str, path: str, handler: LaneHandler) -> None:
        self.fast_lane[(method, path)] = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self.fast_lane.get((scope.get("method", ""), scope.get("path", ""))) \
            if scope["type"] == "http" else None
        if handler is not None:
            request = LaneRequest(self.state, scope, receive)
            answer = await _answer(handler, request)
            if answer is not None:
                await answer.send(send)
                return
            if request.body_read:
                raise RuntimeError("a fast lane handler passed on a request whose body it had read")
        await super().__call__(scope, receive, send)


async def _answer(handler: LaneHandler, request: LaneRequest) -> LaneAnswer | None:
    try:
        return await handler(request)
    except OmniloomError as error:
        return LaneAnswer.problem(error, request.path)
    except Exception:
        log.exception("unhandled error on %s", request.path)
        return LaneAnswer(500, json.dumps(UNEXPECTED_PROBLEM).encode(), PROBLEM_JSON)
