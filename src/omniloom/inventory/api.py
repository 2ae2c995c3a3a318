"""HTTP endpoints of the inventory module."""

from fastapi import APIRouter

router = APIRouter(tags=["inventory"])
