"""Request and response bodies of connector configuration, sync reports and dead letters."""

from __future__ import annotations

import string
from datetime import datetime
from pathlib import PurePosixPath, PureWindowsPath
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

ConnectorType = Literal["file", "http"]
DeadLetterKind = Literal["listing", "order", "acknowledgement", "tracking", "cancellation"]
DeadLetterStatus = Literal["dead", "resolved"]
MASK = "****"
SHOWN_SECRET_TAIL = 4
HEADER_NAME = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _absolute_folder(folder: str) -> str:
    if not (PurePosixPath(folder).is_absolute() or PureWindowsPath(folder).is_absolute()):
        raise ValueError("must be an absolute path")
    return folder


def _web_base(url: str) -> str:
    if not url.startswith(("http://", "https://")) or len(url) <= len("https://"):
        raise ValueError("must be an absolute http:// or https:// address")
    if "@" in urlsplit(url).netloc:
        raise ValueError("must not carry credentials: give them as basic_auth or headers, which are kept secret")
    return url.rstrip("/")


def _template(*allowed: str) -> Any:
    def check(template: str) -> str:
        if not template.startswith("/"):
            raise ValueError("must be a path starting with '/' (it is joined to base_url)")
        try:
            names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
        except ValueError as error:
            raise ValueError(f"is not a valid template: {error}") from None
        unknown = [name for name in names if name not in allowed]
        if unknown:
            raise ValueError(f"unknown placeholder {{{unknown[0]}}}; allowed: "
                             + (", ".join(f"{{{name}}}" for name in allowed) or "none"))
        missing = [name for name in allowed if name not in names]
        if missing:
            raise ValueError(f"must contain {{{missing[0]}}}")
        return template
    return AfterValidator(check)


PathTemplate = Annotated[str, StringConstraints(min_length=1, max_length=500), _template()]
OrderTemplate = Annotated[str, StringConstraints(min_length=1, max_length=500), _template("order_id")]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class FileSettings(Strict):
    """An exchange folder (SFTP-style): feeds are written to ``outgoing/``, order CSVs are read from ``inbox/``
    and moved to ``processed/`` once imported."""

    folder: Annotated[str, StringConstraints(min_length=1, max_length=1000), AfterValidator(_absolute_folder)]


class UrlTemplates(Strict):
    """Paths joined to ``base_url``; ``{order_id}`` is the channel's order id."""

    listings: PathTemplate = "/listings"
    stock: PathTemplate = "/stock"
    orders: PathTemplate = "/orders"
    acknowledge: PathTemplate = "/orders/acknowledgements"
    tracking: OrderTemplate = "/orders/{order_id}/shipments"
    cancellation: OrderTemplate = "/orders/{order_id}/cancellation"


class BasicAuth(Strict):
    username: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    password: Secret


class HttpSettings(Strict):
    """A channel's HTTP API. Header values and the basic-auth password are secrets: stored, never shown whole."""

    base_url: Annotated[str, StringConstraints(max_length=2000), AfterValidator(_web_base)]
    urls: UrlTemplates = Field(default_factory=UrlTemplates)
    headers: dict[Annotated[str, StringConstraints(pattern=HEADER_NAME)], Secret] = Field(
        default_factory=dict, max_length=20)
    basic_auth: BasicAuth | None = None
    timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 10.0


class ConnectorIn(Strict):
    type: ConnectorType
    enabled: bool = True
    settings: dict[str, Any] = Field(description="file: `folder`; http: `base_url`, `urls`, `headers`, "
                                                 "`basic_auth`, `timeout_seconds`. A secret sent back exactly as "
                                                 "GET masked it keeps its stored value.")
    interval_seconds: Annotated[int, Field(ge=1, le=86_400)] = Field(
        60, description="How often the worker syncs the channel.")
    give_up_after_seconds: Annotated[int, Field(ge=60, le=30 * 86_400)] = Field(
        86_400, description="How long work the channel keeps refusing as unavailable is retried before it goes "
                            "to the dead letters.")


class ConnectorOut(BaseModel):
    channel: str
    type: ConnectorType
    enabled: bool
    settings: dict[str, Any] = Field(description="Secrets masked: only their last characters are shown.")
    interval_seconds: int
    give_up_after_seconds: int
    feed_cursor: str | None
    event_position: int
    last_sync_at: datetime | None
    next_sync_at: datetime | None
    failing_since: datetime | None
    last_error: str | None
    open_dead_letters: int
    updated_at: datetime


class SyncReportOut(BaseModel):
    channel: str
    listings_pushed: int
    stock_updates_pushed: int
    removals_pushed: int
    orders_pulled: int
    orders_imported: int
    orders_held: int
    orders_already_imported: int
    orders_acknowledged: int
    tracking_pushed: int
    cancellations_pushed: int
    dead_lettered: int
    waited_seconds: float
    failures: list[str]


class DeadLetterOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    channel: str = Field(validation_alias="channel_code")
    kind: DeadLetterKind
    subject: str = Field(description="What could not be delivered: a SKU, an order id, a shipment.")
    reason: str
    status: DeadLetterStatus
    attempts: int
    payload: dict[str, Any]
    created_at: datetime
    last_attempt_at: datetime
    resolved_at: datetime | None


def mask(secret: str) -> str:
    """A secret as shown: its last few characters when it is long enough to keep the rest hidden."""
    return MASK + secret[-SHOWN_SECRET_TAIL:] if len(secret) >= 3 * SHOWN_SECRET_TAIL else MASK
