"""Order tables: carts, orders and their lines, payments, checkout attempts, returns and refunds.

Amounts are integer minor units of the order's currency. Payment rows hold only the provider's references, never
card data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from omniloom.platform.db import Base, BigIntKey, JSONData, UTCDateTime


class Cart(Base):
    """A basket; a customer has at most one ``active`` cart, whichever channel touched it."""

    __tablename__ = "carts"
    __table_args__ = (
        Index("uq_carts_active_customer", "customer_id", unique=True,
              sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'")),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    merged_into: Mapped[str | None] = mapped_column(String(40))
    fulfillment: Mapped[dict[str, Any]] = mapped_column(JSONData, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CartLine(Base):
    __tablename__ = "cart_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    cart_id: Mapped[str] = mapped_column(ForeignKey("carts.id"), primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    quantity: Mapped[int]
    added_on: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Order(Base):
    """An order from any channel. ``status``: ``placed``, ``on_hold``, ``fulfilled``, ``cancelled``."""

    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("channel", "external_id"),
                      Index("ix_orders_customer_created", "customer_id", "created_at"))

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64), index=True)
    external_id: Mapped[str | None] = mapped_column(String(120))
    cart_id: Mapped[str | None] = mapped_column(String(40))
    customer_id: Mapped[str | None] = mapped_column(String(40))
    contact: Mapped[dict[str, Any]] = mapped_column(JSONData, default=dict)
    status: Mapped[str] = mapped_column(String(20), index=True)
    hold_reason: Mapped[str | None] = mapped_column(String(500))
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[int]
    shipping: Mapped[int] = mapped_column(default=0)
    total: Mapped[int]
    fulfillment_request: Mapped[dict[str, Any]] = mapped_column(JSONData, default=dict)
    raw_lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONData, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OrderLine(Base):
    __tablename__ = "order_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),
                      CheckConstraint("returned <= quantity", name="not_over_returned"),
                      CheckConstraint("cancelled <= quantity", name="not_over_cancelled"))

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    sku: Mapped[str] = mapped_column(String(64))
    listing_id: Mapped[str | None] = mapped_column(String(120))
    quantity: Mapped[int]
    unit_price: Mapped[int]
    returned: Mapped[int] = mapped_column(default=0)
    cancelled: Mapped[int] = mapped_column(default=0)


class Payment(Base):
    """Money taken for an order through a provider; ``refunded`` can never pass ``captured``."""

    __tablename__ = "payments"
    __table_args__ = (CheckConstraint("refunded <= captured", name="refund_within_captured"),
                      CheckConstraint("captured <= amount", name="capture_within_amount"))

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    provider: Mapped[str] = mapped_column(String(40))
    provider_reference: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int]
    captured: Mapped[int] = mapped_column(default=0)
    refunded: Mapped[int] = mapped_column(default=0)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CheckoutAttempt(Base):
    """A checkout between holding the stock and recording the order: what to undo if the process dies between."""

    __tablename__ = "checkout_attempts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    reservation_id: Mapped[str] = mapped_column(String(40))
    provider: Mapped[str] = mapped_column(String(40))
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20), index=True)
    order_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class TestProviderCharge(Base):
    """The built-in ``test`` payment provider's own books (it stands in for a payment service's records)."""

    __tablename__ = "test_provider_charges"

    reference: Mapped[str] = mapped_column(String(120), primary_key=True)
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    captured: Mapped[int] = mapped_column(default=0)
    refunded: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Return(Base):
    __tablename__ = "returns"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    location: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(500))
    refund_amount: Mapped[int]
    refund_status: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    exchange_order_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReturnLine(Base):
    __tablename__ = "return_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    return_id: Mapped[str] = mapped_column(ForeignKey("returns.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"))
    sku: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int]
    condition: Mapped[str] = mapped_column(String(20))
    refund_amount: Mapped[int]
