import pytest
from pydantic import ValidationError

from omniloom.platform.money import Money


@pytest.mark.parametrize(
    ("amount", "currency", "decimal"),
    [(1999, "EUR", "19.99"), (5, "USD", "0.05"), (0, "ZAR", "0.00"), (150000, "IDR", "150000"),
     (1234, "KWD", "1.234"), (1500, "JPY", "1500")],
)
def test_decimal_string_uses_the_currency_minor_units(amount: int, currency: str, decimal: str) -> None:
    assert Money(amount=amount, currency=currency).decimal_string() == decimal


def test_display_formats_for_a_locale() -> None:
    assert Money(amount=1999, currency="EUR").display("nl_NL") == "€\xa019,99"
    assert Money(amount=1999, currency="USD").display("en_US") == "$19.99"


@pytest.mark.parametrize("currency", ["EU", "eur", "XYZ", "EURO", ""])
def test_unknown_currency_is_rejected(currency: str) -> None:
    with pytest.raises(ValidationError):
        Money(amount=100, currency=currency)


@pytest.mark.parametrize("amount", [-1, 19.99, "12"])
def test_amount_must_be_non_negative_integer_minor_units(amount: object) -> None:
    with pytest.raises(ValidationError):
        Money.model_validate({"amount": amount, "currency": "EUR"}, strict=True)
