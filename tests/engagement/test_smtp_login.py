"""A mail server that wants a login: the credentials are used, and a refused password is never written anywhere."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from omniloom.platform.settings import Settings
from omniloom.worker import Worker
from tests.engagement.conftest import Mailbox, mail_settings, messages
from tests.engagement.test_pickup_notifications import STORE_EMAIL, pickup_order

pytestmark = [pytest.mark.usefixtures("shop"),
              # the test server listens without TLS on 127.0.0.1 only
              pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")]


@pytest.fixture
def guarded() -> Iterator[Mailbox]:
    box = Mailbox(logins={"shop": "c0rrect-h0rse"})
    box.start()
    yield box
    box.stop()


def test_the_worker_logs_in_before_sending(admin: TestClient, worker_for: Callable[[Settings], Worker],
                                           guarded: Mailbox) -> None:
    worker = worker_for(mail_settings(guarded, smtp_username="shop", smtp_password="c0rrect-h0rse"))
    admin.patch("/locations/AMS-01", json={"email": STORE_EMAIL})
    pickup_order(admin)

    assert worker.tick().messages_sent == 1
    assert [mail["To"] for mail in guarded.mails] == [STORE_EMAIL]


def test_a_refused_login_fails_the_message_without_writing_the_password_anywhere(
        admin: TestClient, worker_for: Callable[[Settings], Worker], guarded: Mailbox,
        caplog: pytest.LogCaptureFixture) -> None:
    worker = worker_for(mail_settings(guarded, smtp_username="shop", smtp_password="wr0ng-battery"))
    admin.patch("/locations/AMS-01", json={"email": STORE_EMAIL})
    pickup_order(admin)

    with caplog.at_level(logging.DEBUG):
        report = worker.tick()

    assert report.messages_sent == 0 and guarded.mails == []
    [failed] = messages(admin)
    assert failed["status"] == "failed" and failed["error"].startswith("SMTPAuthenticationError")
    assert "wr0ng-battery" not in str(failed) and "wr0ng-battery" not in caplog.text
    assert "message " + failed["id"] in caplog.text
