"""Templates: the same branding on every message, HTML escaped where it is HTML and only there."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from jinja2 import UndefinedError

from omniloom.engagement.rendering import Branding, local_time, render

BRAND = Branding(name="Loom & Co", color="#aa3355")


def pickup_context(**overrides: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "order_number": "ord_01X", "method": "pickup", "method_label": "pickup", "name": None,
        "store": {"code": "AMS-01", "name": "<b>Kalver</b> & Co", "address": ["Kalverstraat 1", "1012 NX Amsterdam"]},
        "items": [{"sku": "TEE-M", "quantity": 2, "title": "Tee <M>"}], "pickup_until": "Thursday 3 December"}
    return {**context, **overrides}


def test_the_subject_and_the_text_are_plain_and_the_html_is_escaped() -> None:
    rendered = render("pickup_ready", pickup_context(name="Ann <script>"), branding=BRAND)

    assert rendered.subject == "Your order ord_01X is ready for pickup at <b>Kalver</b> & Co"
    assert rendered.text.startswith("Loom & Co\n\nHello Ann <script>,\n\n")
    assert "  2 x Tee <M> (TEE-M)\n" in rendered.text
    assert rendered.text.endswith("\n--\nLoom & Co\n")
    assert "<script>" not in rendered.html and "Hello Ann &lt;script&gt;," in rendered.html
    assert "&lt;b&gt;Kalver&lt;/b&gt; &amp; Co" in rendered.html and "Tee &lt;M&gt;" in rendered.html
    assert "<title>Your order ord_01X is ready for pickup at &lt;b&gt;Kalver&lt;/b&gt; &amp; Co</title>" \
        in rendered.html


@pytest.mark.parametrize("template", ["pickup_ready", "store_new_pickup"])
def test_every_template_wears_the_brand(template: str) -> None:
    context = pickup_context(ready_by="Monday 30 November", sales_channel="web")

    rendered = render(template, context, branding=BRAND)  # type: ignore[arg-type]

    assert rendered.text.startswith("Loom & Co\n\n") and rendered.text.endswith("\n--\nLoom & Co\n")
    assert rendered.html.count("Loom &amp; Co") == 2 and "background:#aa3355" in rendered.html


def test_a_missing_fact_is_an_error_not_an_empty_gap() -> None:
    context = pickup_context()
    del context["pickup_until"]

    with pytest.raises(UndefinedError, match="pickup_until"):
        render("pickup_ready", context, branding=BRAND)


def test_times_are_shown_on_the_store_clock() -> None:
    moment = datetime(2026, 7, 1, 22, 30, tzinfo=UTC)

    assert local_time(moment, "Europe/Amsterdam") == "Thursday 2 July 2026, 00:30 (Europe/Amsterdam)"
    assert local_time(moment, "America/New_York") == "Wednesday 1 July 2026, 18:30 (America/New_York)"
