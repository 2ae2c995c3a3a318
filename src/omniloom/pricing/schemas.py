"""Request and response bodies of price lists and prices."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from omniloom.platform.money import CurrencyCode, MinorUnits

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
DEFAULT_CODE_PREFIX = "DEFAULT-"


class PriceListCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, Field(pattern=CODE_PATTERN, examples=["WEB-EUR"])]
    currency: CurrencyCode
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class PriceListOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    code: str
    name: str
    currency: str
    is_default: bool = Field(description=f"The list a product's variant prices go to ({DEFAULT_CODE_PREFIX}<CUR>).")
    created_at: datetime


class PriceSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: MinorUnits
    compare_at_amount: MinorUnits | None = Field(default=None, description="The 'was' price; above `amount`.")
    currency: str | None = Field(default=None, description="Optional; must equal the price list's currency.")

    @field_validator("compare_at_amount")
    @classmethod
    def _above_amount(cls, value: int | None, info: ValidationInfo) -> int | None:
        amount = info.data.get("amount")
        if value is not None and amount is not None and value <= amount:
            raise ValueError(f"must be greater than amount ({amount})")
        return value


class PriceOut(BaseModel):
    price_list: str
    sku: str
    amount: int
    currency: str
    compare_at_amount: int | None
    default_list: bool = Field(description="Whether the price list is its currency's default list.")
