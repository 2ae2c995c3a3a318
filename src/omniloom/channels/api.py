"""HTTP endpoints of the channels module."""

from fastapi import APIRouter

router = APIRouter(tags=["channels"])
