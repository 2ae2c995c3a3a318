"""Errors of the orders module, named after the state they report."""

from __future__ import annotations

from omniloom.platform.errors import Conflict, NotFound, OmniloomError


class CartNotFound(NotFound):
    slug = "cart-not-found"
    title = "Cart not found"


class CartNotActive(Conflict):
    slug = "cart-not-active"
    title = "Cart is not active"


class CartEmpty(Conflict):
    slug = "cart-empty"
    title = "Cart is empty"


class NotSoldOnChannel(Conflict):
    slug = "not-sold-on-channel"
    title = "Not sold on this channel"


class OrderNotFound(NotFound):
    slug = "order-not-found"
    title = "Order not found"


class OrderStateConflict(Conflict):
    slug = "order-state"
    title = "Not possible in the order's current state"


class PaymentDeclined(OmniloomError):
    status = 402
    slug = "payment-declined"
    title = "Payment declined"


class PaymentProviderFailed(OmniloomError):
    status = 502
    slug = "payment-provider-failed"
    title = "Payment provider failed"


class RefundTooLarge(Conflict):
    slug = "refund-too-large"
    title = "Refund larger than what was paid"


class ReturnNotPossible(Conflict):
    slug = "return-not-possible"
    title = "Return not possible"


class CheckoutExpired(Conflict):
    slug = "checkout-expired"
    title = "Checkout expired"
