"""Errors of channel connectors."""

from __future__ import annotations

from omniloom.platform.errors import Conflict, NotFound, OmniloomError


class ConnectorNotConfigured(NotFound):
    slug = "connector-not-configured"
    title = "Channel has no connector"

    def __init__(self, code: str) -> None:
        super().__init__(f"channel '{code}' has no connector; set one with PUT /channels/{code}/connector",
                         channel=code)


class ConnectorDisabled(Conflict):
    slug = "connector-disabled"
    title = "Connector is disabled"

    def __init__(self, code: str) -> None:
        super().__init__(f"the connector of channel '{code}' is disabled; enable it with PUT "
                         f"/channels/{code}/connector", channel=code)


class SyncInProgress(Conflict):
    slug = "sync-in-progress"
    title = "A sync is running"

    def __init__(self, code: str) -> None:
        super().__init__(f"channel '{code}' is being synced right now; try again when that sync ends", channel=code)


class DeadLetterNotFound(NotFound):
    slug = "dead-letter-not-found"
    title = "Dead letter not found"


class DeadLetterResolved(Conflict):
    slug = "dead-letter-resolved"
    title = "Dead letter already delivered"


class ConnectorFailed(OmniloomError):
    """The channel did not take what was sent (the reason says why)."""

    status = 502
    slug = "connector-failed"
    title = "The channel did not take it"
