"""Channel connectors: how listings, stock and prices go out to a channel and its orders come back (S5, O3, O7)."""
