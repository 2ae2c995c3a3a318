"""A small catalog with tricky text, stocked at a warehouse and two stores, sold on a Google (ads) channel."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

DESCRIPTION = 'Soft "organic" cotton,\ttab\nnew line & <b>bold</b> — ümlaut ☕'
FEED_SETTINGS: dict[str, Any] = {
    "link_template": "https://shop.example.com/p/{sku}?utm_source={channel}&utm_medium=cpc",
    "image_base": "https://cdn.example.com/",
    "title_template": "{brand} {title} – {options[colour]} {options[size]}",
    "category_map": {"Apparel > Tops": "Apparel & Accessories > Clothing > Shirts & Tops"},
}


def location(code: str, type: str, capabilities: list[str], latitude: float) -> dict[str, Any]:
    return {"code": code, "name": f"{code} location", "type": type, "latitude": latitude, "longitude": 4.9,
            "address": {"line1": "Damrak 1", "city": "Amsterdam", "postal_code": "1012 LG", "country": "NL"},
            "capabilities": capabilities}


def build(admin: TestClient, *, channel_type: str = "ads", code: str = "google") -> dict[str, str]:
    """Create the catalog; returns the product ids by name."""
    for body in (location("WH-1", "warehouse", ["ship"], 52.3), location("AMS-01", "store", ["pickup", "curbside",
                 "returns"], 52.37), location("LWR-01", "store", ["returns"], 53.2)):
        response = admin.post("/locations", json=body)
        assert response.status_code == 201, response.text
    assert admin.post("/price-lists", json={"code": "ADS-EUR", "currency": "EUR"}).status_code == 201
    created = admin.post("/channels", json={
        "code": code, "name": "Google Shopping", "type": channel_type, "currency": "EUR", "price_list": "ADS-EUR",
        "location_codes": ["WH-1", "AMS-01", "LWR-01"], "feed_settings": FEED_SETTINGS})
    assert created.status_code == 201, created.text
    tee = admin.post("/products", json={
        "title": "Tee", "description": DESCRIPTION, "brand": "Loom", "category": "Apparel > Tops",
        "media": [{"url": "https://cdn.example.com/tee-red.jpg"}, {"url": "https://cdn.example.com/tee-back.jpg"}],
        "attributes": {"material": "Cotton", "gender": "unisex", "age_group": "adult"},
        "variants": [
            {"sku": "TEE-RED-M", "gtin": "4006381333931", "options": {"colour": "Red", "size": "M"},
             "price": {"amount": 1999, "currency": "EUR"}, "weight_grams": 180},
            {"sku": "TEE-RED-L", "gtin": "4012345678901", "options": {"colour": "Red", "size": "L"},
             "price": {"amount": 1999, "currency": "EUR"}, "weight_grams": 190}]})
    assert tee.status_code == 201, tee.text
    mug = admin.post("/products", json={
        "title": "Mug", "description": "Stoneware mug", "brand": "Kiln", "category": "Home > Kitchen",
        "media": [{"url": "https://cdn.example.com/mug.jpg"}],
        "variants": [{"sku": "MUG-1", "mpn": "KLN-100", "price": {"amount": 899, "currency": "EUR"}}]})
    assert mug.status_code == 201, mug.text
    sale = admin.put("/price-lists/ADS-EUR/prices/TEE-RED-L", json={"amount": 1499, "compare_at_amount": 1999})
    assert sale.status_code == 200, sale.text
    for sku, where, quantity in (("TEE-RED-M", "WH-1", 10), ("TEE-RED-M", "AMS-01", 2), ("TEE-RED-L", "AMS-01", 1),
                                 ("TEE-RED-L", "LWR-01", 3)):
        receipt = admin.post("/inventory/movements", json={"sku": sku, "location": where, "quantity": quantity,
                                                           "reason": "receipt"})
        assert receipt.status_code == 201, receipt.text
    return {"tee": tee.json()["id"], "mug": mug.json()["id"]}
