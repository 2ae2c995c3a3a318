"""Omniloom: an omnichannel commerce engine."""

__version__ = "0.1.0"
