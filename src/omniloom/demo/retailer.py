"""The demo retailer's fixed facts: its locations and its channels (pure data, no I/O)."""

from __future__ import annotations

from typing import Any

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
STORE_HOURS: dict[str, list[list[str]]] = {
    **{day: [["09:30", "18:00"]] for day in WEEKDAYS},
    "fri": [["09:30", "21:00"]], "sat": [["09:30", "17:30"]], "sun": [["12:00", "17:00"]],
}
WAREHOUSE_HOURS: dict[str, list[list[str]]] = {day: [["06:00", "22:00"]] for day in (*WEEKDAYS, "sat")}
STORE_CAPABILITIES = ["ship", "pickup", "curbside", "returns", "pos"]

LOCATIONS: list[dict[str, Any]] = [
    {"code": "DC-HRV", "name": "Distribution centre Heerenveen", "type": "warehouse", "priority": 10,
     "address": {"line1": "Kanaalweg 18", "city": "Heerenveen", "postal_code": "8447 GA", "country": "NL"},
     "latitude": 52.9490, "longitude": 5.9460, "capabilities": ["ship"], "opening_hours": WAREHOUSE_HOURS},
    {"code": "ST-LWD", "name": "Leeuwarden Nieuwestad", "type": "store", "priority": 5,
     "address": {"line1": "Nieuwestad 89", "city": "Leeuwarden", "postal_code": "8911 CN", "country": "NL"},
     "latitude": 53.2014, "longitude": 5.7962, "capabilities": STORE_CAPABILITIES, "opening_hours": STORE_HOURS},
    {"code": "ST-SNK", "name": "Sneek Oosterdijk", "type": "store", "priority": 4,
     "address": {"line1": "Oosterdijk 12", "city": "Sneek", "postal_code": "8601 BT", "country": "NL"},
     "latitude": 53.0329, "longitude": 5.6618, "capabilities": STORE_CAPABILITIES, "opening_hours": STORE_HOURS},
    {"code": "ST-DRA", "name": "Drachten Noorderbuurt", "type": "store", "priority": 4,
     "address": {"line1": "Noorderbuurt 25", "city": "Drachten", "postal_code": "9203 AK", "country": "NL"},
     "latitude": 53.1095, "longitude": 6.0988, "capabilities": STORE_CAPABILITIES, "opening_hours": STORE_HOURS},
    {"code": "ST-GRO", "name": "Groningen Herestraat", "type": "store", "priority": 5,
     "address": {"line1": "Herestraat 60", "city": "Groningen", "postal_code": "9711 LM", "country": "NL"},
     "latitude": 53.2153, "longitude": 6.5667, "capabilities": ["pickup", "returns", "pos"],
     "opening_hours": STORE_HOURS},
    {"code": "ST-HRL", "name": "Harlingen harbour pop-up", "type": "popup", "priority": 1,
     "address": {"line1": "Noorderhaven 7", "city": "Harlingen", "postal_code": "8861 AJ", "country": "NL"},
     "latitude": 53.1747, "longitude": 5.4182, "capabilities": ["pickup", "pos"], "opening_hours": STORE_HOURS},
]

STORE_CODES = [location["code"] for location in LOCATIONS if location["type"] != "warehouse"]
SHIPPING_CODES = ["DC-HRV", "ST-LWD", "ST-SNK", "ST-DRA"]
SHOP = "https://shop.waadwear.example"

PRICE_LISTS: list[dict[str, str]] = [
    {"code": "MARKETPLACE-EUR", "currency": "EUR", "name": "Marketplace prices (fees included)"},
]

CHANNELS: list[dict[str, Any]] = [
    {"code": "web", "name": "Web shop", "type": "web", "currency": "EUR", "price_list": "DEFAULT-EUR",
     "location_codes": [*SHIPPING_CODES, "ST-GRO", "ST-HRL"], "safety_stock": 1,
     "feed_settings": {"link_template": SHOP + "/p/{sku}"}},
    {"code": "app", "name": "Waadwear app", "type": "app", "currency": "EUR", "price_list": "DEFAULT-EUR",
     "location_codes": [*SHIPPING_CODES, "ST-GRO", "ST-HRL"], "safety_stock": 1,
     "feed_settings": {"link_template": SHOP + "/app/p/{sku}"}},
    {"code": "pos", "name": "Store tills", "type": "pos", "currency": "EUR", "price_list": "DEFAULT-EUR",
     "location_codes": STORE_CODES, "safety_stock": 0},
    {"code": "marketplace", "name": "Marketplace storefront", "type": "marketplace", "currency": "EUR",
     "price_list": "MARKETPLACE-EUR", "location_codes": ["DC-HRV"], "safety_stock": 3, "max_exposed": 25,
     "feed_settings": {"link_template": SHOP + "/p/{sku}?utm_source=marketplace"}},
    {"code": "social", "name": "Social shop", "type": "social", "currency": "EUR", "price_list": "DEFAULT-EUR",
     "location_codes": ["DC-HRV"], "safety_stock": 2, "max_exposed": 50,
     "feed_settings": {"link_template": SHOP + "/p/{sku}?utm_source=social&utm_medium=shop"}},
    {"code": "ads", "name": "Shopping ads", "type": "ads", "currency": "EUR", "price_list": "DEFAULT-EUR",
     "location_codes": [*SHIPPING_CODES, "ST-GRO", "ST-HRL"], "safety_stock": 1,
     "feed_settings": {"link_template": SHOP + "/p/{sku}?utm_source=google&utm_medium=cpc"}},
]
