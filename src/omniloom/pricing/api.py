"""HTTP endpoints of the pricing module."""

from fastapi import APIRouter

router = APIRouter(tags=["pricing"])
