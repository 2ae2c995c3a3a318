"""Errors of syndication: feeds and their cursors."""

from __future__ import annotations

from omniloom.platform.errors import Conflict, InvalidInput


class FeedNotConfigured(Conflict):
    slug = "feed-not-configured"
    title = "Channel has no feed"

    def __init__(self, code: str) -> None:
        super().__init__(f"channel '{code}' has no feed_settings; set them with PATCH /channels/{code}", channel=code)
        self.code = code


def invalid_cursor(field: str) -> InvalidInput:
    """A feed cursor that this channel's feed did not hand out."""
    return InvalidInput.field(field, "is not a cursor this channel's feed returned (Omniloom-Feed-Cursor)")
