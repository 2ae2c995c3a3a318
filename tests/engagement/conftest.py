"""A real SMTP server on 127.0.0.1 for the engagement tests, and a worker that sends to it."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from fastapi.testclient import TestClient

from omniloom.platform.clock import FrozenClock
from omniloom.platform.db import Database
from omniloom.platform.settings import Settings
from omniloom.worker import Worker
from tests.orders.conftest import shop

BACKOFF_SECONDS = 10.0
__all__ = ["shop"]  # the order tests' retailer, as a fixture here too


class Mailbox:
    """An SMTP server keeping every mail it accepts; it can be stopped and started again on the same port. With
    ``logins`` (user → password) it accepts mail only after a login."""

    def __init__(self, logins: dict[str, str] | None = None) -> None:
        self.logins = logins
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self.mails: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.controller: Controller | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        mail = message_from_bytes(content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        self.mails.append(mail)
        self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        return "250 OK"

    def start(self) -> None:
        login: dict[str, Any] = {"authenticator": self.check_login, "auth_required": True,
                                 "auth_require_tls": False} if self.logins else {}
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **login)
        self.controller.start()

    def check_login(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                    data: Any) -> AuthResult:
        assert self.logins is not None and isinstance(data, LoginPassword)
        known = self.logins.get(data.login.decode()) == data.password.decode()
        return AuthResult(success=known, handled=False)

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address: str) -> list[EmailMessage]:
        """The mails addressed to ``address``."""
        return [mail for mail in self.mails if mail["To"] == address]


def subject_of(mail: EmailMessage) -> str:
    """The subject as a mail client shows it (a subject folded onto the next line keeps no leading space)."""
    return str(mail["Subject"]).strip()


def text_of(mail: EmailMessage) -> str:
    body = mail.get_body(("plain",))
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")


def html_of(mail: EmailMessage) -> str:
    body = mail.get_body(("html",))
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    box.start()
    yield box
    box.stop()


def mail_settings(mailbox: Mailbox, **overrides: Any) -> Settings:
    """Settings sending to ``mailbox`` without TLS, as the retailer "Loom & Co"."""
    values: dict[str, Any] = {
        "database_url": "sqlite://", "smtp_host": "127.0.0.1", "smtp_port": mailbox.port, "smtp_starttls": False,
        "smtp_timeout_seconds": 5.0, "mail_from": "Loom & Co <orders@loom.example>", "brand_name": "Loom & Co",
        "brand_color": "#aa3355", "mail_backoff_base_seconds": BACKOFF_SECONDS}
    return Settings(**{**values, **overrides})


@pytest.fixture
def worker_for(database: Database, clock: FrozenClock) -> Iterator[Callable[[Settings], Worker]]:
    """``worker_for(settings)``: a worker on the test database (closed when the test ends)."""
    made: list[Worker] = []

    def build(settings: Settings) -> Worker:
        made.append(Worker(database, clock, interval_seconds=0.01, settings=settings))
        return made[-1]

    yield build
    for worker in made:
        worker.close()


@pytest.fixture
def worker(worker_for: Callable[[Settings], Worker], mailbox: Mailbox) -> Worker:
    return worker_for(mail_settings(mailbox))


def move(api: TestClient, fulfillment_id: str, *steps: str) -> None:
    """Move the fulfillment through ``steps`` (each must be allowed)."""
    for step in steps:
        response = api.post(f"/fulfillments/{fulfillment_id}/transitions", json={"to": step})
        assert response.status_code == 200, response.text


def messages(api: TestClient, path: str = "/messages", **query: str) -> list[dict[str, Any]]:
    response = api.get(path, params=query)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items
