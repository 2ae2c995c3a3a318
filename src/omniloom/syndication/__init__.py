"""Syndication: each channel's feed from the one catalog, its validation, deltas and the channel connectors."""
