"""A plausible apparel, footwear, outdoor and home catalog, generated from a seed (pure data, no I/O)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

APPAREL_SIZES = ["XS", "S", "M", "L", "XL", "XXL"]
SHOE_SIZES = [str(size) for size in range(37, 47)]
COLOURS = ["Black", "Navy", "Sea green", "Sand", "Rust", "Off-white", "Heather grey", "Ochre", "Forest", "Clay"]
IMAGES = "https://img.waadwear.example/products"


@dataclass(frozen=True)
class Family:
    """A kind of product: its category, titles, materials and how its variants differ."""

    category: str
    nouns: tuple[str, ...]
    materials: tuple[str, ...]
    options: dict[str, list[str]]
    price_range: tuple[int, int]
    weight_grams: int
    gender: str = "unisex"


FAMILIES: list[Family] = [
    Family("Apparel & Accessories > Clothing > Shirts & Tops", ("Crew T-shirt", "Long-sleeve Tee", "Polo", "Henley"),
           ("organic cotton", "merino wool", "linen blend"), {"colour": COLOURS, "size": APPAREL_SIZES},
           (1995, 5995), 220),
    Family("Apparel & Accessories > Clothing > Outerwear > Coats & Jackets",
           ("Rain Jacket", "Wadden Parka", "Quilted Jacket", "Softshell Jacket"),
           ("recycled polyester", "waxed cotton", "ripstop nylon"), {"colour": COLOURS, "size": APPAREL_SIZES},
           (8995, 27995), 780),
    Family("Apparel & Accessories > Clothing > Activewear > Sweatshirts", ("Hoodie", "Crewneck Sweater", "Zip Fleece"),
           ("brushed cotton", "recycled fleece", "merino wool"), {"colour": COLOURS, "size": APPAREL_SIZES},
           (4995, 11995), 520),
    Family("Apparel & Accessories > Clothing > Pants", ("Chino", "Work Trousers", "Hiking Pants", "Denim Jeans"),
           ("stretch cotton", "organic denim", "nylon blend"), {"colour": COLOURS[:5], "size": APPAREL_SIZES[:5]},
           (5995, 12995), 610),
    Family("Apparel & Accessories > Shoes", ("Trail Runner", "Canvas Sneaker", "Chelsea Boot", "Deck Shoe"),
           ("suede", "full-grain leather", "canvas"), {"colour": COLOURS[:4], "size": SHOE_SIZES}, (6995, 18995), 900),
    Family("Sporting Goods > Outdoor Recreation > Camping & Hiking > Backpacks", ("Daypack", "Roll-top Backpack",
           "Trekking Pack"), ("recycled nylon", "waxed canvas"), {"colour": COLOURS[:5], "capacity": ["18 L", "28 L",
           "40 L"]}, (5995, 21995), 1100),
    Family("Home & Garden > Linens & Bedding > Bedding > Blankets", ("Wool Throw", "Picnic Blanket", "Knitted Plaid"),
           ("lambswool", "recycled wool", "cotton"), {"colour": COLOURS}, (3995, 12995), 1400),
    Family("Home & Garden > Kitchen & Dining > Tableware > Drinkware > Mugs", ("Stoneware Mug", "Enamel Mug",
           "Travel Tumbler"), ("stoneware", "enamel steel", "stainless steel"), {"colour": COLOURS[:6]},
           (1295, 3495), 350),
]
BRANDS = ["Waadwear", "Kustlijn", "Noorderzon", "Terp & Co", "Mare Outdoor", "Dykwurk", "Flecht", "Seedyk"]
ADJECTIVES = ["Classic", "Everyday", "Coastal", "Storm", "Harbour", "Dune", "Polder", "Tidal", "Northern",
              "Lightweight", "Heritage", "Essential", "Trail", "Island"]
COMPANY_PREFIX = "8719274"  # a GS1 Netherlands-style company prefix: 7 digits, leaving 5 for items


def gtin13(body12: str) -> str:
    """Append the GS1 check digit to 12 digits."""
    total = sum(int(digit) * (3 if index % 2 else 1) for index, digit in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


def _description(noun: str, material: str, brand: str) -> str:
    return (f"The {noun.lower()} by {brand}, made of {material}. Designed on the Frisian coast for wind, rain and "
            f"everyday wear; shipped from our distribution centre or ready to collect in store.")


def _variant_options(rng: random.Random, family: Family) -> list[dict[str, str]]:
    """A realistic subset: 2–4 colours and (for sized goods) a run of consecutive sizes."""
    colours = rng.sample(family.options["colour"], k=min(len(family.options["colour"]), rng.randint(2, 4)))
    other = [name for name in family.options if name != "colour"]
    if not other:
        return [{"colour": colour} for colour in colours]
    values = family.options[other[0]]
    start = rng.randint(0, max(0, len(values) - 4))
    run = values[start:start + rng.randint(2, 5)]
    return [{"colour": colour, other[0]: value} for colour in colours for value in run]


def products(seed: int, *, count: int = 320) -> Iterator[dict[str, Any]]:
    """``count`` product payloads (the shape of ``POST /products``), deterministic for a seed."""
    rng = random.Random(seed)
    item = 0
    titles: set[tuple[str, str]] = set()
    while len(titles) < count:
        family = rng.choice(FAMILIES)
        brand, noun, material = rng.choice(BRANDS), rng.choice(family.nouns), rng.choice(family.materials)
        title = f"{rng.choice(ADJECTIVES)} {material.split()[-1].capitalize()} {noun}"
        if (brand, title) in titles:
            continue
        titles.add((brand, title))
        price = rng.randrange(family.price_range[0], family.price_range[1], 100) // 100 * 100 - 5
        variants = []
        for options in _variant_options(rng, family):
            item += 1
            sku = f"WW-{len(titles):04d}-{''.join(part[:3].upper() for part in options.values()).replace(' ', '')}"
            on_sale = rng.random() < 0.15
            variants.append({
                "sku": sku, "gtin": gtin13(f"{COMPANY_PREFIX}{item:05d}"), "options": options,
                "weight_grams": family.weight_grams + rng.randint(-40, 40),
                "price": {"amount": price, "currency": "EUR"},
                "compare_at_amount": price + rng.choice([1000, 1500, 2000]) if on_sale else None,
                # 40-64% of the price, varied without drawing from rng (the rest of the demo stays as it was)
                "cost": {"amount": price * (40 + item * 7 % 25) // 100, "currency": "EUR"},
            })
        slug = f"{brand}-{title}".lower().replace(" ", "-").replace("&", "and")
        yield {
            "title": f"{brand} {title}", "brand": brand, "category": family.category,
            "description": _description(noun, material, brand),
            "media": [{"url": f"{IMAGES}/{slug}-{view}.jpg", "alt": f"{title}, {view} view"}
                      for view in ("front", "back", "detail")[: rng.randint(1, 3)]],
            "attributes": {"material": material, "gender": family.gender, "age_group": "adult",
                           "google_product_category": family.category},
            "variants": variants,
        }
