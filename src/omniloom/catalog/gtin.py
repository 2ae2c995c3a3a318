"""GS1 Global Trade Item Numbers: check digits, lengths and the prefixes that never identify a product."""

from __future__ import annotations

GTIN_LENGTHS = (8, 12, 13, 14)

# Prefixes (of the 13-digit form) that mark restricted-circulation, in-store, coupon or refund numbers:
# they are valid GS1 keys but never identify a trade item sold across channels.
RESTRICTED_PREFIXES: dict[str, str] = {
    "02": "a variable-measure (in-store) number",
    "04": "a number for use inside a company",
    "05": "a coupon number",
    "2": "a restricted-circulation number",
    "98": "a coupon or refund number",
    "99": "a coupon number",
}
RESTRICTED_GTIN8_PREFIXES = ("0", "2")


class InvalidGtin(ValueError):
    """A GTIN that is malformed or not usable for a product; the message says what to fix."""


def check_digit(body: str) -> int:
    """The GS1 check digit for ``body`` (the GTIN without its last digit)."""
    total = sum(int(digit) * (3 if index % 2 == 0 else 1) for index, digit in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def validate_gtin(code: str) -> str:
    """Return ``code`` if it is a well-formed GTIN-8/12/13/14 with a correct check digit, else raise InvalidGtin."""
    if not code.isascii() or not code.isdigit():
        raise InvalidGtin("must contain digits only")
    if len(code) not in GTIN_LENGTHS:
        raise InvalidGtin(f"must be 8, 12, 13 or 14 digits, not {len(code)}")
    expected = check_digit(code[:-1])
    if int(code[-1]) != expected:
        raise InvalidGtin(f"check digit should be {expected}")
    return code


def validate_product_gtin(code: str) -> str:
    """Like ``validate_gtin``, and also reject all-zero and restricted-prefix numbers; returns the code."""
    validate_gtin(code)
    if set(code) == {"0"}:
        raise InvalidGtin("must not be all zeros")
    reason = restricted_reason(code)
    if reason is not None:
        raise InvalidGtin(f"is {reason}, not a product GTIN")
    return code


def restricted_reason(code: str) -> str | None:
    """Why a well-formed GTIN cannot identify a product, or None when it can."""
    if len(code) == 8:
        return "a restricted-circulation number" if code.startswith(RESTRICTED_GTIN8_PREFIXES) else None
    thirteen = code[1:] if len(code) == 14 else code.zfill(13)
    for prefix, reason in RESTRICTED_PREFIXES.items():
        if thirteen.startswith(prefix):
            return reason
    return None


def equivalent_forms(code: str) -> set[str]:
    """Every spelling of the same GTIN with leading zeros added or removed (``012345678905`` ~ ``0012345678905``)."""
    significant = code.lstrip("0")
    return {code.zfill(length)[-length:] for length in GTIN_LENGTHS if len(significant) <= length}
