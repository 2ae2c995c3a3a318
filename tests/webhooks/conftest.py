"""A real HTTP receiver on 127.0.0.1, domain events to send, and a worker with a short retry schedule."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from omniloom.platform import outbox
from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from omniloom.platform.settings import Settings
from omniloom.worker import Worker

SECRET = "whsec_test-secret-0123456789"
FAST_RETRIES = Settings(database_url="sqlite://", webhook_timeout_seconds=5, webhook_backoff_base_seconds=10,
                        webhook_backoff_cap_seconds=60, webhook_max_age_seconds=600)


class OrderCreated(outbox.DomainEvent):
    event_type = "order.created"
    order_id: str
    total: int

    def subject(self) -> str:
        return f"order:{self.order_id}"


class OrderCancelled(outbox.DomainEvent):
    event_type = "order.cancelled"
    order_id: str

    def subject(self) -> str:
        return f"order:{self.order_id}"


class FulfillmentShipped(outbox.DomainEvent):
    event_type = "fulfillment.shipped"
    fulfillment_id: str

    def subject(self) -> str:
        return f"fulfillment:{self.fulfillment_id}"


def record(database: Database, clock: FrozenClock, *events: outbox.DomainEvent) -> list[str]:
    """Commit ``events`` to the outbox; returns their event ids in order."""
    with database.write() as session:
        return [outbox.record(session, event, clock=clock) for event in events]


@dataclass(frozen=True)
class Request:
    """One request the receiver got, the unix time (by the test clock) it got it, and its answer."""

    headers: dict[str, str]
    body: bytes
    received_at: int
    status: int


Answer = Callable[[dict[str, str], bytes], int]


class Receiver:
    """A webhook endpoint: records every POST and answers with the status ``answer`` chooses."""

    def __init__(self, answer: Answer, *, now: Callable[[], int]) -> None:
        self.answer = answer
        self.requests: list[Request] = []
        self._now = now
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/omniloom"

    def requests_for(self, event_id: str) -> list[Request]:
        return [request for request in self.requests if request.headers["omniloom-event-id"] == event_id]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {name.lower(): value for name, value in self.headers.items()}
                with receiver._lock:
                    status = receiver.answer(headers, body)
                    receiver.requests.append(Request(headers, body, receiver._now(), status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def receiver_for(clock: FrozenClock) -> Iterator[Callable[[Answer], Receiver]]:
    """Start receivers that answer as told; they stop when the test ends."""
    started: list[Receiver] = []

    def start(answer: Answer) -> Receiver:
        receiver = Receiver(answer, now=lambda: int(clock.now().timestamp()))
        started.append(receiver)
        return receiver
    yield start
    for receiver in started:
        receiver.stop()


@pytest.fixture
def worker(database: Database, clock: FrozenClock) -> Iterator[Worker]:
    """A worker without NATS whose retries are due within 60 s and give up after 600 s."""
    runner = Worker(database, clock, interval_seconds=0.01, settings=FAST_RETRIES)
    yield runner
    runner.close()


@pytest.fixture
def subscribe(admin: TestClient) -> Callable[..., dict[str, Any]]:
    """Create a subscription over HTTP and return it (with its secret)."""
    def make(url: str, events: list[str], secret: str = SECRET) -> dict[str, Any]:
        response = admin.post("/webhooks", json={"url": url, "events": events, "secret": secret})
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created
    return make
