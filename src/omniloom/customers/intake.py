"""Turning raw events into checked, normalised ones: each event passes or fails on its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from omniloom.customers import identifiers as ids
from omniloom.customers.identifiers import PRIORITY, Identifier, IdentifierProblem
from omniloom.customers.schemas import PROPERTY_MODELS, EventIdentifiers, EventIn
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
    try:
        found = _identifiers(sent, region)
    except IdentifierProblem as problem:  # the field is named inside the event only for a refused value
        raise IdentifierProblem(f"{prefix}.identifiers.{problem.error.field}", problem.error.message) from None
    if not found:
        raise IdentifierProblem(f"{prefix}.identifiers",
                                "at least one identifier is needed to know whose event this is")
    if not sent.verified:
        return found, frozenset()
    verified = frozenset(identifier for identifier in found if identifier.kind in sent.verified)
    for kind in sent.verified:
        if not any(identifier.kind == kind for identifier in found):
            raise IdentifierProblem(f"{prefix}.identifiers.verified",
                                    f"names '{kind}' but the event carries no {kind}")
    return found, verified


def _identifiers(sent: EventIdentifiers, region: str) -> list[Identifier]:
    """The event's identifiers normalised, strongest first (``PRIORITY``); a refused one raises IdentifierProblem
    naming its field within ``identifiers``."""
    found: list[Identifier] = []
    if sent.email is not None:
        found.append(ids.email(sent.email, field="email"))
    if sent.phone is not None:
        found.append(ids.phone(sent.phone, region=region, field="phone"))
    if sent.device_id is not None:
        found.append(ids.device(sent.device_id, field="device_id"))
    if sent.loyalty_id is not None:
        found.append(ids.loyalty(sent.loyalty_id, field="loyalty_id"))
    for channel, value in sorted(sent.external_ids.items()):
        found.append(ids.external(channel, value, field=f"external_ids.{channel}"))
    if len(found) > 1:
        found.sort(key=_by_priority)
    return found


def _as_sent(sent: EventIdentifiers) -> dict[str, Any]:
    """The identifiers as the channel sent them, without the fields it left out (``model_dump(mode="json",
    exclude_defaults=True)``, built directly: it is made for every event)."""
    kept: dict[str, Any] = {name: value for name, value in (("email", sent.email), ("phone", sent.phone),
                                                            ("device_id", sent.device_id),
                                                            ("loyalty_id", sent.loyalty_id)) if value is not None}
    if sent.external_ids:
        kept["external_ids"] = dict(sent.external_ids)
    if sent.verified:
        kept["verified"] = list(sent.verified)
    return kept


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
        raw_identifiers=_as_sent(event.identifiers),
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
