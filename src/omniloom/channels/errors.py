"""Errors of the channel registry."""

from __future__ import annotations

from omniloom.platform.errors import Conflict, NotFound


class ChannelNotFound(NotFound):
    slug = "channel-not-found"
    title = "Channel not found"

    def __init__(self, code: str) -> None:
        super().__init__(f"channel '{code}' does not exist", channel=code)
        self.code = code


class ChannelCodeTaken(Conflict):
    slug = "channel-code-taken"
    title = "Channel code already used"

    def __init__(self, code: str) -> None:
        super().__init__(f"a channel with code '{code}' already exists", channel=code)
        self.code = code
