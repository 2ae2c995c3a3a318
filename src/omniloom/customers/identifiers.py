"""Identifier normalisation: the same person's email or phone written differently must match.

Emails are checked with ``email-validator`` and lower-cased whole (mailbox providers treat the local part
case-insensitively in practice); phones become E.164 with ``phonenumbers`` (numbers without a country code are read
in the configured default region); junk values that trackers send for "unknown" are refused rather than linked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from omniloom.platform.errors import FieldError

IdentifierKind = Literal["email", "phone", "device", "loyalty", "external"]
# Which identifier decides where an event belongs when its identifiers point at profiles a guard keeps apart.
PRIORITY: dict[str, int] = {"loyalty": 0, "email": 1, "phone": 2, "external": 3, "device": 4}
JUNK_VALUES = frozenset({"", "null", "none", "undefined", "nan", "anonymous", "unknown", "-1", "n/a", "na"})
_ZEROS = re.compile(r"^[0\-\s:.]+$")
MAX_VALUE_LENGTH = 300


@dataclass(frozen=True, order=True)
class Identifier:
    """A normalised identifier; ``external`` values are ``<channel>:<id>``."""

    kind: str
    value: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"

    @property
    def priority(self) -> int:
        return PRIORITY[self.kind]


class IdentifierProblem(ValueError):
    """An identifier that cannot be used; ``field`` names it inside the event."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.error = FieldError(field, message)


def _check_opaque(field: str, raw: str) -> str:
    value = raw.strip()
    if value.lower() in JUNK_VALUES or _ZEROS.match(value):
        raise IdentifierProblem(field, f"'{raw}' is a placeholder, not an identifier")
    if len(value) > MAX_VALUE_LENGTH:
        raise IdentifierProblem(field, f"is longer than {MAX_VALUE_LENGTH} characters")
    return value


@lru_cache(maxsize=65_536)
def normalise_email(raw: str) -> str:
    """``  Anna.Bakker@Example.COM `` → ``anna.bakker@example.com``; ValueError when it is not an address."""
    try:
        checked = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(str(error)) from None
    return checked.normalized.lower()


@lru_cache(maxsize=65_536)
def normalise_phone(raw: str, region: str) -> str:
    """A phone number in E.164 (``+31612345678``); numbers without ``+`` are read in ``region``."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as error:
        raise ValueError(f"not a phone number: {error}") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"'{raw}' is not a valid phone number (read in region {region})")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email(raw: str, *, field: str = "email") -> Identifier:
    try:
        return Identifier("email", normalise_email(_check_opaque(field, raw)))
    except ValueError as error:
        if isinstance(error, IdentifierProblem):
            raise
        raise IdentifierProblem(field, str(error)) from None


def phone(raw: str, *, region: str, field: str = "phone") -> Identifier:
    try:
        return Identifier("phone", normalise_phone(_check_opaque(field, raw), region))
    except ValueError as error:
        if isinstance(error, IdentifierProblem):
            raise
        raise IdentifierProblem(field, str(error)) from None


def device(raw: str, *, field: str = "device_id") -> Identifier:
    return Identifier("device", _check_opaque(field, raw))


def loyalty(raw: str, *, field: str = "loyalty_id") -> Identifier:
    return Identifier("loyalty", _check_opaque(field, raw).upper().replace(" ", ""))


def external(channel: str, raw: str, *, field: str) -> Identifier:
    """An id a channel gives the person (POS customer number, marketplace buyer id, social handle)."""
    return Identifier("external", f"{channel.strip().lower()}:{_check_opaque(field, raw)}")


def from_lookup(kind: str, raw: str, *, region: str) -> Identifier:
    """The identifier a lookup query names (``email=``, ``phone=``, ``loyalty_id=``, ``device_id=``)."""
    makers = {"email": lambda: email(raw), "phone": lambda: phone(raw, region=region),
              "loyalty_id": lambda: loyalty(raw), "device_id": lambda: device(raw)}
    return makers[kind]()
