"""Demo retailer: a realistic store network, channels of every type, a catalog with stock spread over it."""
