"""HTTP endpoints of the catalog module."""

from fastapi import APIRouter

router = APIRouter(tags=["catalog"])
