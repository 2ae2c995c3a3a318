"""Identifier normalisation: the same person's email or phone written differently must match.

Emails are checked with ``email-validator`` and lower-cased whole (mailbox providers treat the local part
case-insensitively in practice); phones become E.164 with ``phonenumbers`` (numbers without a country code are read
in the configured default region); junk values that trackers send for "unknown" are refused rather than linked.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal, NamedTuple

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from omniloom.platform.errors import FieldError

IdentifierKind = Literal["email", "phone", "device", "loyalty", "external"]
# Which identifier decides where an event belongs when its identifiers point at profiles a guard keeps apart.
PRIORITY: dict[str, int] = {"loyalty": 0, "email": 1, "phone": 2, "external": 3, "device": 4}
JUNK_VALUES = frozenset({"", "null", "none", "undefined", "nan", "anonymous", "unknown", "-1", "n/a", "na"})
_ZEROS = re.compile(r"^[0\-\s:.]+$")
MAX_VALUE_LENGTH = 300
# A dot-atom local part of ASCII characters (RFC 5322), which email-validator accepts as it is.
_DOT_ATOM = re.compile(r"^[a-zA-Z0-9_!#$%&'*+\-/=?^`{|}~]+(\.[a-zA-Z0-9_!#$%&'*+\-/=?^`{|}~]+)*$")
_PROBE_LOCAL_PART = "x"
_MAX_EMAIL_LENGTH = 254
_SPACES = re.compile(r"\s+")
_DIGITS = re.compile(r"^\+?[0-9]+$")


class Identifier(NamedTuple):
    """A normalised identifier; ``external`` values are ``<channel>:<id>``. A tuple: hashed and compared in C."""

    kind: str
    value: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


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
    """``  Anna.Bakker@Example.COM `` → ``anna.bakker@example.com``; ValueError when it is not an address.

    A plain ASCII address (a dot-atom before the ``@``, the common case) only needs its domain checked, and that
    check, the costly part, is made once per domain; anything else goes through the whole validation.
    """
    address = raw.strip()
    local, _, domain = address.rpartition("@")
    if address.isascii() and len(address) <= _MAX_EMAIL_LENGTH and _DOT_ATOM.match(local):
        checked_domain = _email_domain(domain)
        if checked_domain is not None:
            return f"{local}@{checked_domain}".lower()
    try:
        checked = validate_email(address, check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(str(error)) from None
    return checked.normalized.lower()


@lru_cache(maxsize=4096)
def _email_domain(domain: str) -> str | None:
    """The normalised domain when any plain local part at it makes a valid address, else None."""
    try:
        return validate_email(f"{_PROBE_LOCAL_PART}@{domain}", check_deliverability=False).domain
    except EmailNotValidError:
        return None


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
    value = _check_opaque(field, raw)
    try:
        try:  # the same address in other letter cases is read once (the cache's key is the lower-cased form)
            return Identifier("email", normalise_email(value.lower() if value.isascii() else value))
        except ValueError:
            return Identifier("email", normalise_email(value))  # raises, quoting the address as sent
    except ValueError as error:
        raise IdentifierProblem(field, str(error)) from None


def phone(raw: str, *, region: str, field: str = "phone") -> Identifier:
    value = _check_opaque(field, raw)
    digits = _SPACES.sub("", value)
    try:
        try:  # ``06 1234 5678`` and ``0612345678`` are read once (the cache's key is the form without spaces)
            return Identifier("phone", normalise_phone(digits if _DIGITS.match(digits) else value, region))
        except ValueError:
            return Identifier("phone", normalise_phone(value, region))  # raises, quoting the number as sent
    except ValueError as error:
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
