"""Each channel's rules for a feed item: an error leaves the item out of that channel's feed, a warning keeps it.

Pure code without I/O. A rule is one function built from a row of data (an attribute, its limit, its accepted
values); each target is the list of its rules. The published specifications behind every limit are listed in
docs/syndication.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from operator import attrgetter
from string import ascii_letters, digits
from typing import Literal

from babel.numbers import get_currency_precision

from omniloom.catalog.gtin import (
    GTIN_LENGTHS,
    RESTRICTED_GTIN8_PREFIXES,
    RESTRICTED_PREFIXES,
    InvalidGtin,
    validate_product_gtin,
)
from omniloom.syndication.items import FeedItem, Problem

Target = Literal["google", "local_inventory", "meta", "marketplace"]
TARGETS: tuple[Target, ...] = ("google", "local_inventory", "meta", "marketplace")
Rule = Callable[[FeedItem, list[Problem]], None]

CHANNEL_NAMES: dict[Target, str] = {
    "google": "Google", "local_inventory": "Google local inventory", "meta": "Meta", "marketplace": "the marketplace",
}
TARGET_OF_CHANNEL_TYPE: dict[str, Target] = {"ads": "google", "social": "meta", "marketplace": "marketplace"}

CONDITIONS = ("new", "refurbished", "used")
GENDERS = ("male", "female", "unisex")
GOOGLE_AGE_GROUPS = ("newborn", "infant", "toddler", "kids", "adult")
META_AGE_GROUPS = ("adult", "all ages", "teen", "kids", "toddler", "infant", "newborn")
PICKUP_METHODS = ("buy", "reserve", "ship to store", "not supported")
PICKUP_SLAS = ("same day", "next day", "2-day", "3-day", "4-day", "5-day", "6-day", "7-day", "multi-week")
MAX_SHIPPING_WEIGHT_GRAMS = 1_000_000

# The characters RFC 3986 allows in an address (unreserved, reserved and the percent sign): ASCII, no spaces.
URI_CHARACTERS = ascii_letters + digits + "-._~" + ":/?#[]@" + "!$&'()*+,;=" + "%"
_URI_BYTES = URI_CHARACTERS.encode()
MAX_WEB_ADDRESS = 2000


def target_for(channel_type: str) -> Target:
    """The rules a channel of this type is checked against: ads → google, social → meta, marketplace →
    marketplace; web, app and pos channels advertise through Google."""
    return TARGET_OF_CHANNEL_TYPE.get(channel_type, "google")


def has_errors(problems: Iterable[Problem]) -> bool:
    """Whether any of the problems keeps its item out of the feed."""
    return any(problem.severity == "error" for problem in problems)


class Validator:
    """Checks the items of one channel's feed against one target's rules, in the order the feed streams them: by
    id (then store, for local inventory), so a repeated id follows its first item; only the previous id is kept."""

    def __init__(self, target: Target, *, currency: str) -> None:
        self.target = target
        self.currency = currency
        self._rules = _RULES[target](CHANNEL_NAMES[target], currency)
        self._per_store = target == "local_inventory"
        self._previous: object = None

    def check(self, item: FeedItem) -> list[Problem]:
        """The problems of one item, an empty list when it has none."""
        problems: list[Problem] = []
        for rule in self._rules:
            rule(item, problems)
        key = (item.id, item.store_code) if self._per_store else item.id
        if key == self._previous:
            where = _at_store(item) if self._per_store else ""
            problems.append(Problem(item.id, "error", "id", f"id {item.id} appears more than once{where} in the "
                                    "feed; only its first item is kept"))
        self._previous = key
        return problems


# Rule builders: each returns one rule made from a row of data.

TextLimit = tuple[str, int, bool]


def text_limits(channel: str, limits: Iterable[TextLimit]) -> Rule:
    """Each (attribute, maximum length, required) row: a required attribute must be there; none may be longer."""
    rows = tuple((attribute, attrgetter(attribute), limit, required) for attribute, limit, required in limits)

    def rule(item: FeedItem, problems: list[Problem]) -> None:
        for attribute, read, limit, required in rows:
            value = read(item)
            if not value:
                if required:
                    problems.append(Problem(item.id, "error", attribute,
                                            f"{attribute} is missing; {channel} requires it"))
            elif len(value) > limit:
                problems.append(Problem(item.id, "error", attribute,
                                        f"{attribute} is {len(value)} characters; {channel} allows at most {limit}"))
    return rule


def web_addresses(channel: str, attributes: Iterable[tuple[str, bool]]) -> Rule:
    """Each (attribute, required) row: the value is an absolute http(s) address of at most 2000 characters."""
    rows = tuple((attribute, attrgetter(attribute), required) for attribute, required in attributes)
    # The last valid address of each attribute: the items of one product share their images, so an address that
    # did not change is not checked again.
    valid = dict.fromkeys(attribute for attribute, _read, _required in rows)

    def rule(item: FeedItem, problems: list[Problem]) -> None:
        for attribute, read, required in rows:
            value = read(item)
            if not value:
                if required:
                    problems.append(Problem(item.id, "error", attribute,
                                            f"{attribute} is missing; {channel} requires it"))
            elif value == valid[attribute]:
                continue
            elif len(value) > MAX_WEB_ADDRESS or not _is_web_address(value):
                problems.append(Problem(item.id, "error", attribute, _web_address_problem(attribute, value)))
            else:
                valid[attribute] = value
    return rule


def additional_images(channel: str, most: int) -> Rule:
    """More images than the channel takes, or one that is not a web address, is a warning: the image is dropped."""
    def rule(item: FeedItem, problems: list[Problem]) -> None:
        links = item.additional_image_links
        if not links:
            return
        if len(links) > most:
            problems.append(Problem(item.id, "warning", "additional_image_link",
                                    f"additional_image_link has {len(links)} images; {channel} takes the first "
                                    f"{most}"))
        for link in links:
            if len(link) > MAX_WEB_ADDRESS or not _is_web_address(link):
                problems.append(Problem(item.id, "warning", "additional_image_link",
                                        _web_address_problem("additional_image_link", link)))
    return rule


def one_of(channel: str, attribute: str, accepted: Iterable[str]) -> Rule:
    """The attribute's value is one the channel accepts."""
    read = attrgetter(attribute)
    values = frozenset(accepted)
    listed = _listing(accepted)

    def rule(item: FeedItem, problems: list[Problem]) -> None:
        value = read(item)
        if value not in values:
            problems.append(Problem(item.id, "error", attribute,
                                    f"{attribute} is '{value}'; {channel} accepts {listed}"))
    return rule


def variant_attributes(channel: str, limits: Mapping[str, int], accepted: Mapping[str, Iterable[str]],
                       part_limits: Mapping[str, tuple[str, int]] | None = None) -> Rule:
    """Variant attributes (color, size, gender, ...): a maximum length, or accepted values (any letter case);
    ``part_limits`` also limits each separated part (Google's colors, up to 40 characters each)."""
    values = {name: frozenset(value.casefold() for value in found) for name, found in accepted.items()}
    listings = {name: _listing(found) for name, found in accepted.items()}
    parts = dict(part_limits or {})

    def rule(item: FeedItem, problems: list[Problem]) -> None:
        for name, value in item.attributes.items():
            allowed = values.get(name)
            if allowed is not None:
                if value not in allowed and value.casefold() not in allowed:
                    problems.append(Problem(item.id, "error", name,
                                            f"{name} is '{value}'; {channel} accepts {listings[name]}"))
                continue
            limit = limits.get(name)
            if limit is None:
                continue
            if len(value) > limit:
                problems.append(Problem(item.id, "error", name,
                                        f"{name} is {len(value)} characters; {channel} allows at most {limit}"))
            elif name in parts and len(value) > parts[name][1]:
                _check_parts(item, name, value, parts[name], channel, problems)
    return rule


def prices(channel: str, currency: str, *, required: bool = True) -> Rule:
    """A price above zero in the feed's currency; a sale price above zero and below the price."""
    def rule(item: FeedItem, problems: list[Problem]) -> None:
        price = item.price
        if price is None:
            if required:
                problems.append(Problem(item.id, "error", "price", "price is missing; the SKU has no price on the "
                                        f"channel's price list and {channel} requires one"))
        elif price <= 0:
            problems.append(Problem(item.id, "error", "price",
                                    f"price is {_amount(price, item.currency)}; it must be above zero"))
        if item.currency != currency and (price is not None or item.sale_price is not None):
            problems.append(Problem(item.id, "error", "price",
                                    f"price is in {item.currency} but the feed's currency is {currency}"))
        sale = item.sale_price
        if sale is None:
            return
        if sale <= 0:
            problems.append(Problem(item.id, "error", "sale_price",
                                    f"sale_price is {_amount(sale, item.currency)}; it must be above zero"))
        elif price is not None and sale >= price:
            problems.append(Problem(item.id, "warning", "sale_price",
                                    f"sale_price {_amount(sale, item.currency)} is not below price "
                                    f"{_amount(price, item.currency)}; {channel} shows no sale"))
    return rule


# A GTIN that passes is checked on its bytes (an ASCII digit is 48 + the digit), so its GS1 check digit is the
# weighted sum of the bytes less 48 for each weight; one that fails goes to the catalog's validator, which says what
# is wrong with it. Per length: that offset, where the code's restricted prefix is (its 13-digit form's first two
# digits) and which prefixes are restricted there, and the all-zero code.
def _gtin_shape(length: int) -> tuple[int, int, int, frozenset[str], bytes]:
    offset = 48 * (3 * len(range(length - 2, -1, -2)) + len(range(length - 3, -1, -2)))
    zeros = b"0" * length
    if length == 8:
        return offset, 0, 1, frozenset(RESTRICTED_GTIN8_PREFIXES), zeros
    pairs = {prefix if len(prefix) == 2 else prefix + digit for prefix in RESTRICTED_PREFIXES for digit in digits}
    if length == 12:
        return offset, 0, 1, frozenset(pair[1] for pair in pairs if pair[0] == "0"), zeros
    start = 1 if length == 14 else 0
    return offset, start, start + 2, frozenset(pairs), zeros


_GTIN_SHAPES = {length: _gtin_shape(length) for length in GTIN_LENGTHS}


def gtin_check(item: FeedItem, problems: list[Problem]) -> None:
    """A GTIN, when there is one, has 8, 12, 13 or 14 digits, a correct check digit and no restricted prefix."""
    code = item.gtin
    if not code:
        return
    shape = _GTIN_SHAPES.get(len(code))
    if shape is not None and code.isascii():
        data = code.encode()
        offset, start, end, restricted, zeros = shape
        if (data.isdigit() and (offset - 3 * sum(data[-2::-2]) - sum(data[-3::-2])) % 10 == data[-1] - 48
                and code[start:end] not in restricted and data != zeros):
            return
    try:
        validate_product_gtin(code)
    except InvalidGtin as error:
        problems.append(Problem(item.id, "error", "gtin", f"gtin {code} {error}"))


def google_identifiers(item: FeedItem, problems: list[Problem]) -> None:
    """Google identifies a product by its GTIN or its brand with MPN; without them identifier_exists is sent as no."""
    if item.mpn and not item.brand:
        problems.append(Problem(item.id, "warning", "brand",
                                "brand is missing; Google identifies a product by brand together with mpn"))
    if not item.gtin and item.condition == "new" and not item.identifier_exists:
        problems.append(Problem(item.id, "warning", "identifier_exists",
                                "the item has no gtin and no brand with mpn, so identifier_exists is sent as no; "
                                "Google requires the GTIN of a new product that has one"))


def any_identifier(channel: str) -> Rule:
    """At least one of brand, gtin and mpn."""
    def rule(item: FeedItem, problems: list[Problem]) -> None:
        if not (item.brand or item.gtin or item.mpn):
            problems.append(Problem(item.id, "error", "brand",
                                    f"brand, gtin and mpn are all missing; {channel} requires at least one of them"))
    return rule


def variant_group(channel: str) -> Rule:
    """An item with variant attributes (color, size, ...) belongs to an item group."""
    def rule(item: FeedItem, problems: list[Problem]) -> None:
        if item.attributes and not item.item_group_id:
            names = ", ".join(sorted(item.attributes))
            problems.append(Problem(item.id, "error", "item_group_id",
                                    f"item_group_id is missing; {channel} requires it for variants (the item has "
                                    f"{names})"))
    return rule


def backorder_date(item: FeedItem, problems: list[Problem]) -> None:
    """Google wants the date a backordered item ships; the feed has none to give."""
    if item.availability == "backorder":
        problems.append(Problem(item.id, "warning", "availability",
                                "availability is backorder but the feed gives no availability_date; Google asks "
                                "for the date the item ships"))


def shipping_weight(item: FeedItem, problems: list[Problem]) -> None:
    """A shipping weight from 0 to 1000 kg."""
    grams = item.shipping_weight_grams
    if grams is None:
        return
    if grams < 0:
        problems.append(Problem(item.id, "error", "shipping_weight", f"shipping_weight is {grams} g; it cannot be "
                                "negative"))
    elif grams > MAX_SHIPPING_WEIGHT_GRAMS:
        problems.append(Problem(item.id, "warning", "shipping_weight",
                                f"shipping_weight is {grams / 1000:g} kg; Google takes at most 1000 kg, so carrier "
                                "rates do not apply"))


def quantity_not_negative(item: FeedItem, problems: list[Problem]) -> None:
    """A quantity of zero or more."""
    if item.quantity < 0:
        problems.append(Problem(item.id, "error", "quantity", f"quantity is {item.quantity}; it cannot be negative"))


def stock_matches_availability(item: FeedItem, problems: list[Problem]) -> None:
    """A store that shows the item in stock has some of it, and one that has some shows it in stock."""
    if item.availability == "in_stock" and item.quantity == 0:
        problems.append(Problem(item.id, "warning", "availability",
                                f"availability is in_stock but quantity is 0{_at_store(item)}"))
    elif item.availability == "out_of_stock" and item.quantity > 0:
        problems.append(Problem(item.id, "warning", "availability",
                                f"availability is out_of_stock but quantity is {item.quantity}{_at_store(item)}"))


def pickup(item: FeedItem, problems: list[Problem]) -> None:
    """Pickup method and pickup SLA take Google's values, and a store that offers pickup says how soon."""
    method, sla = item.pickup_method, item.pickup_sla
    if method is not None and method not in _PICKUP_METHODS:
        problems.append(Problem(item.id, "error", "pickup_method",
                                f"pickup_method is '{method}'; Google accepts {_listing(PICKUP_METHODS)}"))
    if sla is not None and sla not in _PICKUP_SLAS:
        problems.append(Problem(item.id, "error", "pickup_sla",
                                f"pickup_sla is '{sla}'; Google accepts {_listing(PICKUP_SLAS)}"))
    if method is not None and method != "not supported" and sla is None:
        problems.append(Problem(item.id, "error", "pickup_sla",
                                f"pickup_sla is missing; Google requires it with pickup_method '{method}'"))


# The targets: each is the list of its rules, in the order their problems are reported.

def google_rules(channel: str, currency: str) -> tuple[Rule, ...]:
    """Google Merchant Center's product data specification."""
    return (
        text_limits(channel, (("id", 50, True), ("title", 150, True), ("description", 5000, True),
                              ("item_group_id", 50, False), ("brand", 70, False), ("mpn", 70, False),
                              ("product_type", 750, False))),
        web_addresses(channel, (("link", True), ("image_link", True))),
        additional_images(channel, 10),
        one_of(channel, "availability", ("in_stock", "out_of_stock", "backorder")),
        backorder_date,
        prices(channel, currency),
        one_of(channel, "condition", CONDITIONS),
        gtin_check,
        google_identifiers,
        variant_group(channel),
        variant_attributes(channel, {"size": 100, "color": 100, "material": 200, "pattern": 100},
                           {"gender": GENDERS, "age_group": GOOGLE_AGE_GROUPS}, {"color": ("/", 40)}),
        shipping_weight,
    )


def local_inventory_rules(channel: str, currency: str) -> tuple[Rule, ...]:
    """Google's local product inventory specification."""
    return (
        text_limits(channel, (("id", 50, True),)),
        quantity_not_negative,
        one_of(channel, "availability", ("in_stock", "out_of_stock")),
        stock_matches_availability,
        prices(channel, currency, required=False),
        pickup,
    )


def meta_rules(channel: str, currency: str) -> tuple[Rule, ...]:
    """Meta's catalog fields."""
    return (
        text_limits(channel, (("id", 100, True), ("title", 200, True), ("description", 9999, True),
                              ("brand", 100, False))),
        web_addresses(channel, (("link", True), ("image_link", True))),
        additional_images(channel, 20),
        one_of(channel, "availability", ("in_stock", "out_of_stock", "backorder")),
        prices(channel, currency),
        one_of(channel, "condition", CONDITIONS),
        gtin_check,
        any_identifier(channel),
        variant_attributes(channel, {}, {"gender": GENDERS, "age_group": META_AGE_GROUPS}),
    )


def marketplace_rules(channel: str, currency: str) -> tuple[Rule, ...]:
    """The generic marketplace CSV/JSON: what any marketplace needs to list an item."""
    return (
        text_limits(channel, (("id", 64, True), ("title", 300, True))),
        web_addresses(channel, (("link", False), ("image_link", False))),
        prices(channel, currency),
        quantity_not_negative,
        gtin_check,
    )


_RULES: dict[Target, Callable[[str, str], tuple[Rule, ...]]] = {
    "google": google_rules, "local_inventory": local_inventory_rules, "meta": meta_rules,
    "marketplace": marketplace_rules,
}
_PICKUP_METHODS = frozenset(PICKUP_METHODS)
_PICKUP_SLAS = frozenset(PICKUP_SLAS)


def _web_address_problem(attribute: str, value: str) -> str:
    if len(value) > MAX_WEB_ADDRESS:
        return f"{attribute} is {len(value)} characters; at most {MAX_WEB_ADDRESS} are allowed"
    return (f"{attribute} {_shown(value)} is not an absolute http:// or https:// address of ASCII characters "
            "without spaces")


def _is_web_address(value: str) -> bool:
    """An absolute http(s) address with a host, of RFC 3986 characters only."""
    if value.startswith("https://"):
        host = 8
    elif value.startswith("http://"):
        host = 7
    else:
        return False
    return (len(value) > host and value[host] not in "/?#" and value.isascii()
            and not value.encode().translate(None, _URI_BYTES))


def _check_parts(item: FeedItem, name: str, value: str, part_limit: tuple[str, int], channel: str,
                 problems: list[Problem]) -> None:
    separator, limit = part_limit
    for part in value.split(separator):
        if len(part) > limit:
            problems.append(Problem(item.id, "error", name, f"{name} {_shown(part)} is {len(part)} characters; "
                                    f"{channel} allows at most {limit} for each {name}"))


def _amount(minor_units: int, currency: str) -> str:
    places = get_currency_precision(currency)
    sign = "-" if minor_units < 0 else ""
    whole, fraction = divmod(abs(minor_units), 10**places)
    return f"{sign}{whole}.{fraction:0{places}d} {currency}" if places else f"{sign}{whole} {currency}"


def _listing(values: Iterable[str]) -> str:
    quoted = [f"'{value}'" for value in values]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1] if len(quoted) > 1 else quoted[0]


def _shown(value: str) -> str:
    return f"'{value}'" if len(value) <= 80 else f"'{value[:77]}...'"


def _at_store(item: FeedItem) -> str:
    return f" at store {item.store_code}" if item.store_code else ""
