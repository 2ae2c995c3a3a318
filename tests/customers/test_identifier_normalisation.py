"""Normalising emails and phones: the cached shortcuts give exactly what the full validation gives."""

from __future__ import annotations

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from omniloom.customers import identifiers as ids
from omniloom.customers.identifiers import IdentifierProblem

LOCAL_CHARACTERS = "abcXYZ09._+-!#$%&'*/=?^`{|}~\"@ ()[],;:\\é"
DOMAINS = ("Example.COM", "sub.Domain.NL", "a.b", "EXAMPLE.test", "x_y.com", "-a.com", "a..b.com", "localhost",
           "123.45", "[1.2.3.4]", "bücher.de", "xn--bcher-kva.example", "e.invalid", "com", "ex ample.com", "",
           "a." + "b" * 64 + ".com", "a" * 250 + ".com")


def fully_validated(address: str) -> str | None:
    try:
        return validate_email(address.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def normalised(address: str) -> str | None:
    try:
        return ids.email(address).value
    except IdentifierProblem:
        return None


@settings(max_examples=3000, deadline=None)
@given(local=st.text(alphabet=LOCAL_CHARACTERS, max_size=80), domain=st.sampled_from(DOMAINS),
       padded=st.booleans())
def test_an_email_normalises_as_the_full_validation_says(local: str, domain: str, padded: bool) -> None:
    address = f" {local}@{domain} " if padded else f"{local}@{domain}"
    assert normalised(address) == fully_validated(address)


def test_the_same_address_in_other_cases_is_one_identifier() -> None:
    spellings = ("anna.bakker@example.com", "Anna.Bakker@EXAMPLE.COM", "  ANNA.bakker@Example.Com ")
    assert {ids.email(spelling).value for spelling in spellings} == {"anna.bakker@example.com"}


@pytest.mark.parametrize("address", ["Anna@Example..COM", "Anna Bakker@Example.COM", "anna@EXAMPLE.TEST",
                                     "ANNA@[1.2.3.4]"])
def test_a_bad_address_is_refused_with_what_the_validation_says(address: str) -> None:
    with pytest.raises(EmailNotValidError) as validation:
        validate_email(address, check_deliverability=False)
    with pytest.raises(IdentifierProblem) as refused:
        ids.email(address, field="events[0].identifiers.email")
    assert refused.value.error.field == "events[0].identifiers.email"
    assert refused.value.error.message == str(validation.value)


@settings(max_examples=1000, deadline=None)
@given(digits=st.text(alphabet="0123456789", min_size=6, max_size=13), prefix=st.sampled_from(["", "+", "+31", "0"]),
       spaces=st.lists(st.integers(min_value=1, max_value=14), max_size=4),
       region=st.sampled_from(["NL", "DE", "GB", "US", "BE"]))
def test_a_phone_written_with_spaces_normalises_as_without(digits: str, prefix: str, spaces: list[int],
                                                          region: str) -> None:
    number = prefix + digits
    spaced = number
    for position in sorted(set(spaces), reverse=True):
        spaced = spaced[:position] + " " + spaced[position:]
    try:
        parsed = phonenumbers.parse(number, region)
        expected = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) \
            if phonenumbers.is_valid_number(parsed) else None
    except phonenumbers.NumberParseException:
        expected = None
    try:
        found: str | None = ids.phone(spaced, region=region).value
    except IdentifierProblem:
        found = None
    assert found == expected
