"""ISO 3166-1 alpha-2 country codes."""

from __future__ import annotations

from functools import lru_cache

from babel import Locale

# Codes the CLDR territory list has that are not ISO 3166-1 countries (regions, unions, private-use codes).
NOT_ISO_3166 = frozenset({"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "XK", "ZZ"})


@lru_cache(maxsize=1)
def country_codes() -> frozenset[str]:
    """Every assigned ISO 3166-1 alpha-2 code."""
    territories = Locale("en").territories
    codes = (code for code in territories if isinstance(code, str) and len(code) == 2 and code.isalpha())
    return frozenset(codes) - NOT_ISO_3166


def check_country(code: str) -> str:
    """Return the code if it is an ISO 3166-1 alpha-2 country, else raise ValueError."""
    if code not in country_codes():
        raise ValueError(f"'{code}' is not an ISO 3166-1 alpha-2 country code (e.g. NL, ID, ZA)")
    return code
