"""HTTP endpoints of the channel registry and of the change log channel connectors poll."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy.orm import Session

from omniloom.channels import service
from omniloom.channels.schemas import Change, ChannelCreate, ChannelOut, ChannelUpdate
from omniloom.inventory import service as inventory
from omniloom.platform import outbox
from omniloom.platform.auth import Principal
from omniloom.platform.errors import FieldError, InvalidInput, NotFound
from omniloom.platform.http import (
    DEFAULT_PAGE_LIMIT,
    AdminDep,
    ChannelInPathDep,
    ClockDep,
    CursorQuery,
    DatabaseDep,
    LimitQuery,
    roles,
)
from omniloom.platform.pagination import Page
from omniloom.pricing import service as pricing
from omniloom.pricing.errors import PriceListNotFound

router = APIRouter(tags=["channels"])


RegistryReaderDep = Annotated[Principal, roles("admin", "channel", action="read channels")]


@router.post("/channels", status_code=status.HTTP_201_CREATED, response_model=ChannelOut)
def create_channel(body: ChannelCreate, _: AdminDep, db: DatabaseDep, clock: ClockDep) -> ChannelOut:
    """Register a channel with its price list and inventory policy."""
    with db.write() as session:
        _check_references(session, currency=body.currency, price_list=body.price_list,
                          location_codes=body.location_codes)
        return ChannelOut.model_validate(service.create_channel(session, body, clock=clock))


@router.get("/channels", response_model=Page[ChannelOut])
def list_channels(principal: RegistryReaderDep, db: DatabaseDep, limit: LimitQuery = DEFAULT_PAGE_LIMIT,
                  cursor: CursorQuery = None) -> Page[ChannelOut]:
    """Channels ordered by code; a channel key sees only its own channel."""
    codes = None if principal.is_admin else [principal.subject or ""]
    with db.read() as session:
        channels, next_cursor = service.list_channels(session, limit=limit, cursor=cursor, codes=codes)
        return Page(items=[ChannelOut.model_validate(channel) for channel in channels], next_cursor=next_cursor)


@router.get("/channels/{code}", response_model=ChannelOut)
def get_channel(code: str, _: ChannelInPathDep, db: DatabaseDep) -> ChannelOut:
    """One channel; a channel key may read only its own."""
    with db.read() as session:
        return ChannelOut.model_validate(service.get_channel(session, code))


@router.patch("/channels/{code}", response_model=ChannelOut)
def update_channel(code: str, body: ChannelUpdate, _: AdminDep, db: DatabaseDep, clock: ClockDep) -> ChannelOut:
    """Change a channel's fields; only the fields sent change."""
    with db.write() as session:
        channel = service.get_channel(session, code)
        sent = body.model_fields_set
        if sent & {"currency", "price_list", "location_codes"}:
            locations = body.location_codes if "location_codes" in sent and body.location_codes else []
            _check_references(session, currency=body.currency or channel.currency,
                              price_list=body.price_list or channel.price_list, location_codes=locations)
        return ChannelOut.model_validate(service.update_channel(session, code, body, clock=clock))


@router.get("/changes", response_model=Page[Change])
def list_changes(_: AdminDep, db: DatabaseDep,
                 since: Annotated[int, Query(ge=0, description="Position of the last change already seen.")] = 0,
                 limit: LimitQuery = DEFAULT_PAGE_LIMIT) -> Page[Change]:
    """What changed after position ``since``, oldest first; ``next_cursor`` is the next ``since`` while more remain."""
    with db.read() as session:
        events = outbox.changes_since(session, cursor=since, limit=limit)
        next_cursor = str(events[-1].position) if len(events) == limit else None
        return Page(items=[Change.model_validate(event) for event in events], next_cursor=next_cursor)


def _check_references(session: Session, *, currency: str, price_list: str, location_codes: Sequence[str]) -> None:
    """The price list must exist in the channel's currency, and every location must exist."""
    errors: list[FieldError] = []
    try:
        found = pricing.get_price_list(session, price_list)
    except PriceListNotFound:
        errors.append(FieldError("price_list", f"price list '{price_list}' does not exist"))
    else:
        if found.currency != currency:
            errors.append(FieldError("currency", f"wrong currency: the channel sells in {currency} but price list "
                                                 f"'{price_list}' is in {found.currency}"))
    for index, location_code in enumerate(location_codes):
        try:
            inventory.get_location(session, location_code)
        except NotFound:
            errors.append(FieldError(f"location_codes[{index}]", f"location '{location_code}' does not exist"))
    if errors:
        raise InvalidInput.fields(errors)
