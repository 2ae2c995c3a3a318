"""Payment providers: one interface (authorise, capture, refund, void), and the built-in ``test`` provider.

Omniloom never sees card data: a client obtains a token from the provider and Omniloom passes it on once. The
``test`` provider reads the token: ``tok_ok`` is approved, ``tok_declined`` is declined, ``tok_error`` fails as
an unreachable provider would. It keeps its own books in ``test_provider_charges`` (standing in for the payment
service's records), so reconciliation after a crash can ask it what really happened to a charge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast

from sqlalchemy import CursorResult, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from omniloom.orders.errors import PaymentProviderFailed, RefundTooLarge
from omniloom.orders.models import TestProviderCharge
from omniloom.platform.clock import Clock
from omniloom.platform.errors import InvalidInput

ChargeStatus = Literal["approved", "declined"]
_CHARGES = cast(Table, TestProviderCharge.__table__)


@dataclass(frozen=True)
class ChargeResult:
    status: ChargeStatus
    reference: str
    message: str


class PaymentProvider(Protocol):
    """What Omniloom needs from a payment service. ``reference`` is Omniloom's own id: calls are idempotent on it."""

    name: str

    def charge(self, *, reference: str, token: str, amount: int, currency: str) -> ChargeResult:
        """Authorise and capture ``amount``; raises PaymentProviderFailed when the provider cannot answer."""
        ...

    def refund(self, *, reference: str, amount: int) -> None:
        """Give back ``amount`` of a captured charge."""
        ...

    def captured(self, *, reference: str) -> int:
        """How much of the charge ``reference`` is captured and not refunded (0 when unknown)."""
        ...


class TestProvider:
    """The built-in provider for trying Omniloom out and for tests."""

    name = "test"

    def __init__(self, session: Session, *, clock: Clock) -> None:
        self.session = session
        self.clock = clock

    def charge(self, *, reference: str, token: str, amount: int, currency: str) -> ChargeResult:
        if token == "tok_error":
            raise PaymentProviderFailed("the payment provider did not answer; nothing was charged")
        if token not in ("tok_ok", "tok_declined"):
            raise InvalidInput.field("payment.token", "the test provider knows tok_ok, tok_declined and tok_error")
        status = "approved" if token == "tok_ok" else "declined"
        dialect = postgresql if self.session.get_bind().dialect.name == "postgresql" else sqlite
        made = self.session.execute(dialect.insert(_CHARGES).on_conflict_do_nothing().returning(_CHARGES.c.status), {
            "reference": reference, "amount": amount, "currency": currency,
            "captured": amount if status == "approved" else 0, "refunded": 0, "status": status,
            "created_at": self.clock.now()}).first()
        if made is None:  # charged before under this reference: its first answer stands
            earlier = self.session.scalar(select(TestProviderCharge.status)
                                          .where(TestProviderCharge.reference == reference))
            status = "approved" if earlier == "approved" else "declined"
        message = "approved" if status == "approved" else "the card was declined"
        return ChargeResult(status, reference, message)  # type: ignore[arg-type]

    def refund(self, *, reference: str, amount: int) -> None:
        done = self.session.execute(
            update(TestProviderCharge)
            .where(TestProviderCharge.reference == reference,
                   TestProviderCharge.refunded + amount <= TestProviderCharge.captured)
            .values(refunded=TestProviderCharge.refunded + amount))
        if cast(CursorResult[Any], done).rowcount != 1:
            raise RefundTooLarge(f"charge '{reference}' cannot refund {amount} more")

    def captured(self, *, reference: str) -> int:
        row = self.session.execute(select(TestProviderCharge.captured, TestProviderCharge.refunded)
                                   .where(TestProviderCharge.reference == reference)).first()
        return 0 if row is None else int(row.captured - row.refunded)


PROVIDERS = ("test",)


def provider_for(name: str, session: Session, *, clock: Clock) -> PaymentProvider:
    """The provider called ``name``."""
    if name != "test":
        raise InvalidInput.field("payment.provider", f"unknown provider '{name}'; known: {', '.join(PROVIDERS)}")
    return TestProvider(session, clock=clock)
