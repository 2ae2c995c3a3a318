"""HTTP endpoints of the engagement module: the messages sent to a customer (admin or that customer) and every
message (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from omniloom.customers import service as customers
from omniloom.engagement import service
from omniloom.engagement.schemas import MessageOut, MessageStatus
from omniloom.platform.errors import Forbidden
from omniloom.platform.http import DEFAULT_PAGE_LIMIT, AdminDep, CursorQuery, DatabaseDep, LimitQuery, PrincipalDep
from omniloom.platform.pagination import Page

router = APIRouter(tags=["messages"])
CustomerId = Annotated[str, Path(max_length=40, examples=["cus_01JDW7K6X1T3SQ4Q0S4Z6P5Y8C"])]


@router.get("/customers/{customer_id}/messages", response_model=Page[MessageOut],
            summary="Messages written to the customer, oldest first (admin, or the customer themself)")
def customer_messages(customer_id: CustomerId, db: DatabaseDep, principal: PrincipalDep,
                      limit: LimitQuery = DEFAULT_PAGE_LIMIT, cursor: CursorQuery = None) -> Page[MessageOut]:
    with db.read() as session:
        profile = customers.resolve_profile(session, customer_id)
        if principal.kind == "customer":
            own = customers.resolve_profile(session, principal.subject or "")
            if own.id != profile.id:
                raise Forbidden(f"role '{principal.role}' may only see its own messages")
        else:
            principal.require_admin()
        ids = [profile.id, *customers.merged_ids(session, profile.id)]
        messages, next_cursor = service.customer_messages(session, profile_ids=ids, limit=limit, cursor=cursor)
        return Page(items=[MessageOut.model_validate(message) for message in messages], next_cursor=next_cursor)


@router.get("/messages", response_model=Page[MessageOut], summary="Every message, oldest first (admin)")
def list_messages(_: AdminDep, db: DatabaseDep,
                  message_status: Annotated[MessageStatus | None, Query(alias="status")] = None,
                  limit: LimitQuery = DEFAULT_PAGE_LIMIT, cursor: CursorQuery = None) -> Page[MessageOut]:
    with db.read() as session:
        messages, next_cursor = service.list_messages(session, status=message_status, limit=limit, cursor=cursor)
        return Page(items=[MessageOut.model_validate(message) for message in messages], next_cursor=next_cursor)
