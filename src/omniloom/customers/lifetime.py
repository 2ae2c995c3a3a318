"""Fitting lifetime-value models on the purchases of every channel, and each customer's traits from them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

import numpy as np
from babel.numbers import get_currency_precision
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omniloom.customers import clv
from omniloom.customers.models import ClvModel, CustomerPurchase
from omniloom.customers.schemas import ClvFitIn
from omniloom.platform.clock import Clock
from omniloom.platform.errors import InvalidInput
from omniloom.platform.ids import new_id

QUINTILES = (0.2, 0.4, 0.6, 0.8)
DAY_SECONDS = 86_400.0


@dataclass(frozen=True)
class Prediction:
    expected_purchases: float
    probability_alive: float
    expected_value: int


def _model_currency(session: Session, calibration_end: datetime) -> str:
    rows = session.execute(select(CustomerPurchase.currency, func.count()).where(
        CustomerPurchase.occurred_at <= calibration_end).group_by(CustomerPurchase.currency)).all()
    if not rows:
        raise InvalidInput.field("calibration_end", "no customer purchased before the calibration end")
    return str(max(rows, key=lambda row: (row[1], row[0]))[0])


def fit(session: Session, *, data: ClvFitIn, clock: Clock) -> ClvModel:
    """Fit BG/NBD and Gamma-Gamma to purchase history up to ``calibration_end`` and store the model."""
    currency = data.currency or _model_currency(session, data.calibration_end)
    scale = 10 ** get_currency_precision(currency)
    rows = session.execute(select(CustomerPurchase.profile_id, CustomerPurchase.occurred_at, CustomerPurchase.amount)
                           .where(CustomerPurchase.currency == currency,
                                  CustomerPurchase.occurred_at <= data.calibration_end))
    purchases = [clv.Purchase(row.profile_id, row.occurred_at, row.amount / scale) for row in rows]
    if not purchases:
        raise InvalidInput.field("currency", f"no purchases in {currency} before the calibration end")
    summaries = clv.summarise(purchases, calibration_end=data.calibration_end, time_unit=data.time_unit)
    bgnbd = clv.fit_bgnbd(summaries)
    gamma_gamma = clv.fit_gamma_gamma(summaries)
    model = ClvModel(id=new_id("clv"), calibration_end=data.calibration_end, time_unit=data.time_unit,
                     currency=currency, horizon=data.horizon, bgnbd=asdict(bgnbd), gamma_gamma=asdict(gamma_gamma),
                     rfm_boundaries=rfm_boundaries(summaries, purchases, time_unit=data.time_unit),
                     customers=len(summaries),
                     repeat_customers=sum(1 for s in summaries if s.frequency > 0), fitted_at=clock.now())
    session.add(model)
    session.flush()
    return model


def rfm_boundaries(summaries: Sequence[clv.CustomerSummary], purchases: Sequence[clv.Purchase], *,
                   time_unit: clv.TimeUnit) -> dict[str, list[float]]:
    """Quintile boundaries of recency (days since the last purchase), purchase days and total spend (major units)."""
    days = clv.days_per_unit(time_unit)
    recency_days = np.array([(s.T - s.recency) * days for s in summaries])
    frequency = np.array([s.frequency + 1 for s in summaries], dtype=float)
    calibrated = {s.customer_id for s in summaries}
    totals: dict[str, float] = {}
    for purchase in purchases:
        if purchase.customer_id in calibrated:
            totals[purchase.customer_id] = totals.get(purchase.customer_id, 0.0) + purchase.amount
    spend = np.array(list(totals.values()))
    return {name: [float(x) for x in np.quantile(values, QUINTILES)]
            for name, values in (("recency_days", recency_days), ("frequency", frequency), ("monetary", spend))}


def rfm_score(value: float, boundaries: Sequence[float], *, lower_is_better: bool = False) -> int:
    """1–5 by quintile (5 best)."""
    score = 1 + sum(1 for boundary in boundaries if value > boundary)
    return 6 - score if lower_is_better else score


def segment(recency: int, frequency: int) -> str:
    """A named segment from the R and F scores, the usual RFM grid."""
    if recency >= 4 and frequency >= 4:
        return "champions"
    if recency >= 3 and frequency >= 3:
        return "loyal"
    if recency >= 4:
        return "new"
    if frequency >= 3:
        return "at_risk"
    if recency <= 2:
        return "hibernating"
    return "needs_attention"


def predict(model: ClvModel, history: Sequence[CustomerPurchase], *, now: datetime) -> Prediction | None:
    """The customer's expected purchases over the model's horizon, P(alive) and expected value, as of ``now``."""
    scale = 10 ** get_currency_precision(model.currency)
    mine = [clv.Purchase(p.profile_id, p.occurred_at, p.amount / scale) for p in history
            if p.currency == model.currency and p.occurred_at <= now]
    if not mine:
        return None
    summary = clv.summarise(mine, calibration_end=now, time_unit=model.time_unit)[0]  # type: ignore[arg-type]
    bgnbd = clv.BgNbdParameters(**model.bgnbd)
    gamma_gamma = clv.GammaGammaParameters(**model.gamma_gamma)
    expected = clv.expected_purchases(bgnbd, model.horizon, summary.frequency, summary.recency, summary.T)
    alive = clv.probability_alive(bgnbd, summary.frequency, summary.recency, summary.T)
    value = clv.expected_value(bgnbd, gamma_gamma, periods=model.horizon, frequency=summary.frequency,
                               recency=summary.recency, T=summary.T, monetary_value=summary.monetary_value)
    return Prediction(expected, alive, round(value * scale))


def recency_days(last: datetime, now: datetime) -> int:
    return max(0, int((now - last).total_seconds() // DAY_SECONDS))


def most_common(values: Sequence[str]) -> str | None:
    counts = Counter(values)
    return min(counts, key=lambda value: (-counts[value], value)) if counts else None
