"""Domain events of the customer module (version 1 payloads). They carry ids, never personal data."""

from __future__ import annotations

from omniloom.platform.outbox import DomainEvent


class CustomerMerged(DomainEvent):
    """Two profiles turned out to be one person; ``merged_id`` now resolves to ``survivor_id``."""

    event_type = "customer.merged"

    merge_id: str
    survivor_id: str
    merged_id: str

    def subject(self) -> str:
        return f"customer:{self.survivor_id}"


class CustomerUnmerged(CustomerMerged):
    """A merge was undone: both profiles exist again, each with its own identifiers and events."""

    event_type = "customer.unmerged"


class CustomerErased(DomainEvent):
    """A person's personal data was erased from the profile and every profile merged into it."""

    event_type = "customer.erased"

    customer_id: str
    profile_ids: list[str]

    def subject(self) -> str:
        return f"customer:{self.customer_id}"


class ConsentChanged(DomainEvent):
    event_type = "customer.consent_changed"

    customer_id: str
    purpose: str
    granted: bool
    channel: str | None

    def subject(self) -> str:
        return f"customer:{self.customer_id}"


class LoyaltyPointsRedeemed(DomainEvent):
    event_type = "loyalty.points_redeemed"

    customer_id: str
    points: int
    channel: str
    reference: str
    balance: int

    def subject(self) -> str:
        return f"customer:{self.customer_id}"
