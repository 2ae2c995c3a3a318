"""Handing emails to a mail server. ``Mailer`` is what the sender needs; ``SmtpMailer`` speaks SMTP (optionally
STARTTLS and a login) and reports a reason per email instead of raising, so one refused address never fails the
others. The password is read only to log in: it never appears in a log line or a stored error."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

from pydantic import SecretStr

from omniloom.platform.settings import Settings

MAX_ERROR = 500


class Mailer(Protocol):
    def send(self, mails: Sequence[EmailMessage]) -> list[str | None]:
        """Hand each mail to the mail server; per mail None when it was accepted, else why not (never raises)."""
        ...


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    username: str | None
    password: SecretStr | None
    starttls: bool
    timeout_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpServer | None:
        """The configured server, or None when ``OMNILOOM_SMTP_HOST`` is not set."""
        if not settings.smtp_host:
            return None
        return cls(host=settings.smtp_host, port=settings.smtp_port, username=settings.smtp_username,
                   password=settings.smtp_password, starttls=settings.smtp_starttls,
                   timeout_seconds=settings.smtp_timeout_seconds)


class SmtpMailer:
    """One SMTP connection per batch of mails."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    def send(self, mails: Sequence[EmailMessage]) -> list[str | None]:
        outcomes: list[str | None] = []
        try:
            with smtplib.SMTP(self.server.host, self.server.port, timeout=self.server.timeout_seconds) as client:
                self._open(client)
                for mail in mails:
                    outcomes.append(self._send_one(client, mail))
        except (smtplib.SMTPException, OSError) as error:  # down, refused, timed out, TLS or login refused
            reason = describe(error)
            outcomes.extend(reason for _ in range(len(mails) - len(outcomes)))
        return outcomes

    def _open(self, client: smtplib.SMTP) -> None:
        if self.server.starttls:
            client.starttls(context=ssl.create_default_context())
        if self.server.username:
            password = self.server.password.get_secret_value() if self.server.password else ""
            client.login(self.server.username, password)

    @staticmethod
    def _send_one(client: smtplib.SMTP, mail: EmailMessage) -> str | None:
        try:
            client.send_message(mail)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
            return describe(error)  # this mail only: the connection goes on with the next
        return None


def describe(error: BaseException) -> str:
    """A short, storable reason for a failure (the server's answer, never a credential)."""
    return f"{type(error).__name__}: {error}"[:MAX_ERROR]
