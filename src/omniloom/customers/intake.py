"""Turning raw events into checked, normalised ones: each event passes or fails on its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from omniloom.customers import identifiers as ids
from omniloom.customers.identifiers import PRIORITY, Identifier, IdentifierProblem
from omniloom.customers.schemas import PROPERTY_MODELS, EventIn
from omniloom.platform.errors import FieldError
from omniloom.platform.ids import new_id


@dataclass(frozen=True)
class PurchaseFacts:
    order_id: str
    amount: int
    currency: str
    items: int


@dataclass
class PreparedEvent:
    """An accepted event, its identifiers normalised and in priority order (the strongest first)."""

    index: int
    event_id: str
    client_id: bool
    type: str
    channel: str
    occurred_at: datetime
    identifiers: list[Identifier]
    verified: frozenset[Identifier]
    raw_identifiers: dict[str, Any]
    properties: dict[str, Any]
    purchase: PurchaseFacts | None
    traits: dict[str, Any] = field(default_factory=dict)


@dataclass
class Rejection:
    index: int
    errors: list[FieldError]


def _field_path(prefix: str, location: tuple[int | str, ...]) -> str:
    path = prefix
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _by_priority(identifier: Identifier) -> tuple[int, Identifier]:
    return PRIORITY[identifier.kind], identifier


def _normalise(event: EventIn, *, prefix: str, region: str) -> tuple[list[Identifier], frozenset[Identifier]]:
    sent = event.identifiers
    at = f"{prefix}.identifiers"
    found: list[Identifier] = []
    if sent.email is not None:
        found.append(ids.email(sent.email, field=f"{at}.email"))
    if sent.phone is not None:
        found.append(ids.phone(sent.phone, region=region, field=f"{at}.phone"))
    if sent.device_id is not None:
        found.append(ids.device(sent.device_id, field=f"{at}.device_id"))
    if sent.loyalty_id is not None:
        found.append(ids.loyalty(sent.loyalty_id, field=f"{at}.loyalty_id"))
    for channel, value in sorted(sent.external_ids.items()):
        found.append(ids.external(channel, value, field=f"{at}.external_ids.{channel}"))
    if not found:
        raise IdentifierProblem(at, "at least one identifier is needed to know whose event this is")
    found.sort(key=_by_priority)
    if not sent.verified:
        return found, frozenset()
    verified = frozenset(identifier for identifier in found if identifier.kind in sent.verified)
    for kind in sent.verified:
        if not any(identifier.kind == kind for identifier in found):
            raise IdentifierProblem(f"{at}.verified", f"names '{kind}' but the event carries no {kind}")
    return found, verified


def _typed_properties(event: EventIn, *, prefix: str) -> tuple[dict[str, Any], PurchaseFacts | None]:
    model = PROPERTY_MODELS.get(event.type)
    if model is None:
        return event.properties, None
    checked = model.model_validate(event.properties)
    properties: dict[str, Any] = checked.model_dump(mode="json", exclude_none=True)
    if event.type != "order_completed":
        return properties, None
    total = properties["total"]
    items = sum(line["quantity"] for line in properties.get("lines", []))
    return properties, PurchaseFacts(properties["order_id"], total["amount"], total["currency"], items)


def prepare(raw: dict[str, Any], *, index: int, received_at: datetime, region: str) -> PreparedEvent:
    """Check and normalise one event; raises ValidationError or IdentifierProblem naming ``events[i]...``."""
    prefix = f"events[{index}]"
    event = EventIn.model_validate(raw)
    found, verified = _normalise(event, prefix=prefix, region=region)
    try:
        properties, purchase = _typed_properties(event, prefix=prefix)
    except ValidationError as error:
        raise _with_prefix(error, f"{prefix}.properties") from None
    traits: dict[str, Any] = {}
    if event.type == "identify":
        traits = {key: properties[key] for key in ("name", "first_name", "last_name") if key in properties}
    return PreparedEvent(
        index=index, event_id=event.id or new_id("cev"), client_id=event.id is not None, type=event.type,
        channel=event.channel, occurred_at=event.timestamp or received_at, identifiers=found, verified=verified,
        raw_identifiers=event.identifiers.model_dump(mode="json", exclude_defaults=True),
        properties=properties, purchase=purchase, traits=traits,
    )


class _PrefixedErrors(Exception):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


def _with_prefix(error: ValidationError, prefix: str) -> _PrefixedErrors:
    return _PrefixedErrors([FieldError(_field_path(prefix, tuple(e["loc"])), e["msg"].removeprefix("Value error, "))
                            for e in error.errors()])


def prepare_batch(raw_events: list[dict[str, Any]], *, received_at: datetime, region: str,
                  only_channel: str | None, known_channels: frozenset[str]
                  ) -> tuple[list[PreparedEvent], list[Rejection]]:
    """Split a batch into prepared events and rejections (with reasons), keeping the batch order."""
    prepared: list[PreparedEvent] = []
    rejected: list[Rejection] = []
    for index, raw in enumerate(raw_events):
        prefix = f"events[{index}]"
        try:
            event = prepare(raw, index=index, received_at=received_at, region=region)
        except ValidationError as error:
            rejected.append(Rejection(index, _with_prefix(error, prefix).errors))
            continue
        except _PrefixedErrors as error:
            rejected.append(Rejection(index, error.errors))
            continue
        except IdentifierProblem as problem:
            rejected.append(Rejection(index, [problem.error]))
            continue
        if only_channel is not None and event.channel != only_channel:
            rejected.append(Rejection(index, [FieldError(f"{prefix}.channel",
                                                         f"this key may only send events as channel "
                                                         f"'{only_channel}'")]))
        elif event.channel not in known_channels:
            rejected.append(Rejection(index, [FieldError(f"{prefix}.channel",
                                                         f"channel '{event.channel}' is not registered")]))
        else:
            prepared.append(event)
    return prepared, rejected
