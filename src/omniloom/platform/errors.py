"""Domain errors carrying their HTTP meaning, rendered once as RFC 9457 problem+json."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

PROBLEM_BASE = "https://omniloom.dev/problems/"


@dataclass(frozen=True)
class FieldError:
    """One invalid input field: a dotted path like ``variants[0].gtin`` and what is wrong with it."""

    field: str
    message: str


class OmniloomError(Exception):
    """Base of every expected error. Subclasses fix ``status``, ``slug`` and ``title``."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str, *, errors: list[FieldError] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.extra = extra

    @property
    def type(self) -> str:
        return PROBLEM_BASE + self.slug

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        """The RFC 9457 problem document for this error."""
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status, "detail": self.detail}
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = [{"field": e.field, "message": e.message} for e in self.errors]
        body.update(self.extra)
        return body


class InvalidInput(OmniloomError):
    status = 422
    slug = "validation"
    title = "Invalid input"

    @classmethod
    def field(cls, field: str, message: str, **extra: Any) -> InvalidInput:
        """An error about one field; the detail repeats it so a one-line reader sees it too."""
        return cls.fields([FieldError(field, message)], **extra)

    @classmethod
    def fields(cls, errors: list[FieldError], **extra: Any) -> InvalidInput:
        """An error about several fields; the detail lists the first few of them."""
        return cls("; ".join(f"{error.field}: {error.message}" for error in errors[:5]), errors=errors, **extra)


class MalformedRequest(OmniloomError):
    status = 400
    slug = "malformed-request"
    title = "Malformed request"


class PayloadTooLarge(OmniloomError):
    status = 413
    slug = "payload-too-large"
    title = "Payload too large"


class NotFound(OmniloomError):
    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(OmniloomError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class Unauthenticated(OmniloomError):
    status = 401
    slug = "unauthenticated"
    title = "Authentication required"


class Forbidden(OmniloomError):
    status = 403
    slug = "forbidden"
    title = "Forbidden"
