"""GS1 check digits, lengths and restricted prefixes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omniloom.catalog.gtin import InvalidGtin, check_digit, equivalent_forms, validate_gtin, validate_product_gtin
from tests.factories import valid_gtin13

VALID_PRODUCT_GTINS = [
    "4006381333931",   # EAN-13
    "5901234123457",   # EAN-13
    "9780306406157",   # ISBN as EAN-13
    "036000291452",    # UPC-A
    "012345678905",    # UPC-A
    "96385074",        # EAN-8
    "00012345678905",  # GTIN-14 with indicator 0
    "10012345678902",  # GTIN-14 with indicator 1
]

INVALID_GTINS = [
    ("4006381333932", "check digit should be 1"),
    ("5901234123450", "check digit should be 7"),
    ("036000291453", "check digit should be 2"),
    ("96385075", "check digit should be 4"),
    ("10012345678900", "check digit should be 2"),
    ("1234567", "must be 8, 12, 13 or 14 digits, not 7"),
    ("12345678901", "must be 8, 12, 13 or 14 digits, not 11"),
    ("123456789012345", "must be 8, 12, 13 or 14 digits, not 15"),
    ("", "must contain digits only"),
    ("400638133393X", "must contain digits only"),
    ("4006381 33393", "must contain digits only"),
    ("400638133393١", "must contain digits only"),
]

RESTRICTED_GTINS = [
    ("2000000000008", "is a restricted-circulation number, not a product GTIN"),
    ("2912345678906", "is a restricted-circulation number, not a product GTIN"),
    ("0212345678909", "is a variable-measure (in-store) number, not a product GTIN"),
    ("212345678909", "is a variable-measure (in-store) number, not a product GTIN"),
    ("0412345678903", "is a number for use inside a company, not a product GTIN"),
    ("0512345678900", "is a coupon number, not a product GTIN"),
    ("9812345678902", "is a coupon or refund number, not a product GTIN"),
    ("9912345678909", "is a coupon number, not a product GTIN"),
    ("10212345678906", "is a variable-measure (in-store) number, not a product GTIN"),
    ("20123451", "is a restricted-circulation number, not a product GTIN"),
    ("00000000", "must not be all zeros"),
    ("0000000000000", "must not be all zeros"),
]


@pytest.mark.parametrize("code", VALID_PRODUCT_GTINS)
def test_valid_product_gtins_are_accepted(code: str) -> None:
    assert validate_product_gtin(code) == code


@pytest.mark.parametrize(("code", "message"), INVALID_GTINS)
def test_malformed_gtins_are_refused_with_a_clear_message(code: str, message: str) -> None:
    with pytest.raises(InvalidGtin) as caught:
        validate_gtin(code)
    assert str(caught.value) == message


@pytest.mark.parametrize(("code", "message"), RESTRICTED_GTINS)
def test_restricted_gtins_are_well_formed_but_not_product_gtins(code: str, message: str) -> None:
    assert validate_gtin(code) == code
    with pytest.raises(InvalidGtin) as caught:
        validate_product_gtin(code)
    assert str(caught.value) == message


def test_check_digit_of_known_bodies() -> None:
    assert [check_digit(body) for body in ("400638133393", "03600029145", "9638507", "1001234567890")] == [1, 2, 4, 2]


def test_leading_zero_spellings_are_the_same_gtin() -> None:
    assert equivalent_forms("012345678905") == {"012345678905", "0012345678905", "00012345678905"}
    assert equivalent_forms("00000096385074") == {"96385074", "000096385074", "0000096385074", "00000096385074"}
    assert equivalent_forms("10012345678902") == {"10012345678902"}


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_twelve_digits_with_their_check_digit_validate(body: str) -> None:
    assert validate_gtin(valid_gtin13(body)) == body + str(check_digit(body))


@given(st.text(alphabet="0123456789", min_size=12, max_size=12), st.integers(min_value=1, max_value=9))
def test_any_other_last_digit_fails(body: str, offset: int) -> None:
    correct = check_digit(body)
    wrong = (correct + offset) % 10
    with pytest.raises(InvalidGtin) as caught:
        validate_gtin(f"{body}{wrong}")
    assert str(caught.value) == f"check digit should be {correct}"
