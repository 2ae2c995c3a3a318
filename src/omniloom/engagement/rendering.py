"""Message templates: a subject, a plain-text body and an HTML alternative per template, all in the retailer's
branding (``templates/base.txt`` and ``templates/base.html``). Pure: the caller gathers the facts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

TemplateName = Literal["pickup_ready", "store_new_pickup"]
SUBJECTS: dict[TemplateName, str] = {
    "pickup_ready": "Your order {{ order_number }} is ready for {{ method_label }} at {{ store.name }}",
    "store_new_pickup": "New {{ method_label }} order {{ order_number }}"
                        "{% if ready_by %}: have it ready by {{ ready_by }}{% endif %}",
}
METHOD_LABELS = {"pickup": "pickup", "curbside": "curbside pickup"}
MAX_SUBJECT = 300

_environment = Environment(loader=PackageLoader("omniloom.engagement", "templates"),
                           autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                           trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
_subjects = Environment(autoescape=False, undefined=StrictUndefined)  # a header, not HTML


@dataclass(frozen=True)
class Branding:
    name: str
    color: str


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def render(template: TemplateName, context: Mapping[str, Any], *, branding: Branding) -> Rendered:
    """The subject and both bodies of ``template`` filled with ``context``."""
    facts = {**context, "brand": branding}
    subject = " ".join(_subjects.from_string(SUBJECTS[template]).render(facts).split())[:MAX_SUBJECT]
    facts["subject"] = subject
    return Rendered(subject=subject, text=_environment.get_template(f"{template}.txt").render(facts),
                    html=_environment.get_template(f"{template}.html").render(facts))


def local_time(moment: datetime, timezone: str) -> str:
    """``moment`` as the store's clock shows it: ``Thursday 3 December 2026, 10:00 (Europe/Amsterdam)``."""
    return f"{format_datetime(moment, 'EEEE d MMMM y, HH:mm', tzinfo=ZoneInfo(timezone), locale='en')} ({timezone})"


def method_label(method: str) -> str:
    """How a customer calls a fulfillment method: ``curbside`` → ``curbside pickup``."""
    return METHOD_LABELS.get(method, method)
