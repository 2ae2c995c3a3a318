"""Money as integer minor units plus an ISO 4217 currency code; never floats."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from babel.numbers import format_currency, get_currency_precision, list_currencies
from pydantic import AfterValidator, BaseModel, ConfigDict, Field


@lru_cache(maxsize=1)
def _known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def check_currency(code: str) -> str:
    """Return the code if it is an active ISO 4217 currency, else raise ValueError."""
    if code not in _known_currencies():
        raise ValueError(f"'{code}' is not an ISO 4217 currency code (e.g. EUR, USD, ZAR, IDR)")
    return code


CurrencyCode = Annotated[str, Field(min_length=3, max_length=3, examples=["EUR"]), AfterValidator(check_currency)]
MinorUnits = Annotated[int, Field(ge=0, le=10**15, description="Integer minor units (cents).")]


class Money(BaseModel):
    """An amount in minor units of a currency: ``{"amount": 1999, "currency": "EUR"}`` is EUR 19.99.

    Minor units follow the CLDR currency digits: 2 for EUR and USD, 0 for JPY and IDR, 3 for KWD.
    """

    model_config = ConfigDict(frozen=True)

    amount: MinorUnits
    currency: CurrencyCode

    def decimal_string(self) -> str:
        """The amount as a plain decimal string in major units, e.g. ``19.99``."""
        digits = get_currency_precision(self.currency)
        if digits == 0:
            return str(self.amount)
        whole, fraction = divmod(self.amount, 10**digits)
        return f"{whole}.{fraction:0{digits}d}"

    def display(self, locale: str = "en") -> str:
        """Human formatting for a locale, e.g. ``€19.99``."""
        digits = get_currency_precision(self.currency)
        return str(format_currency(self.amount / 10**digits, self.currency, locale=locale))
