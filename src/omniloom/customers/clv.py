"""Customer lifetime value: BG/NBD purchase counts and Gamma-Gamma spend, fitted by maximum likelihood.

The models are those of Fader, Hardie & Lee, "Counting your customers the easy way" (2005) for the number of
purchases and Fader & Hardie, "The Gamma-Gamma model of monetary value" (2013) for their value. Everything here is
pure computation on purchases and summaries: no I/O, no database.

Time is counted in whole UTC calendar days. A customer's purchases on one day are one transaction whose value is
their sum. Purchases at or before ``calibration_end`` count; a customer's age ``T`` runs from the day of their first
purchase to the day of ``calibration_end``, and ``recency`` from that first day to the day of their last purchase,
both converted to the chosen time unit. So the CDNOW calibration period, 1 January to 30 September 1997 (39 weeks),
is ``calibration_end`` on 30 September 1997 and gives ``T`` = 272 / 7 = 38.86 weeks for a customer who first bought on
1 January, as in the published data.

Rates and horizons are in the time unit of the summaries the model was fitted on: ``alpha`` scales with the unit,
``r``, ``a`` and ``b`` do not; log-likelihoods of fits in different units differ by the constant
``-sum(frequency) * log(unit ratio)``. Spend is in major currency units of one currency.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize
from scipy.special import digamma, expit, gammaln, hyp2f1

from omniloom.platform.errors import InvalidInput

TimeUnit = Literal["day", "week", "month"]
DAYS_PER_UNIT: dict[TimeUnit, float] = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}
SECONDS_PER_DAY = 86_400

# Fitting works on data rescaled to unit size, so every parameter is near 1 unless the data make it run off to 0 or
# infinity: estimates beyond e**±DEGENERATE_LOG_PARAMETER are reported as undetermined; the search stops at the bound.
DEGENERATE_LOG_PARAMETER = 10.0
LOG_PARAMETER_BOUND = 18.0
GRADIENT_TOLERANCE = 1e-5

Floats = NDArray[np.float64]
Objective = Callable[[Floats], tuple[float, Floats]]


class FitFailed(InvalidInput):
    """The summaries do not determine the model: its likelihood has no finite maximum or could not be maximised."""

    slug = "clv-fit-failed"
    title = "Model could not be fitted"


@dataclass(frozen=True)
class Purchase:
    """One purchase: who, when (time-zone aware) and how much in major currency units."""

    customer_id: str
    at: datetime
    amount: float


@dataclass(frozen=True)
class CustomerSummary:
    """A customer's history up to the calibration end: repeat purchases, recency and age in time units."""

    customer_id: str
    frequency: int
    recency: float
    T: float
    monetary_value: float


@dataclass(frozen=True)
class BgNbdParameters:
    """BG/NBD: purchase rate ~ Gamma(r, alpha), drop-out probability after each purchase ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float


@dataclass(frozen=True)
class GammaGammaParameters:
    """Gamma-Gamma: transaction value ~ Gamma(p, nu), with nu ~ Gamma(q, gamma) across customers."""

    p: float
    q: float
    gamma: float
    log_likelihood: float


def summarise(
    purchases: Iterable[Purchase], *, calibration_end: datetime, time_unit: TimeUnit
) -> list[CustomerSummary]:
    """Each customer's frequency, recency, age and mean repeat spend up to ``calibration_end``, by customer id."""
    unit_days = days_per_unit(time_unit)
    _check_aware(calibration_end, "calibration_end")
    end_day = _utc_day(calibration_end)
    spend_by_day: dict[str, dict[int, float]] = {}
    count = 0
    for count, purchase in enumerate(purchases, start=1):
        at, amount = purchase.at, purchase.amount
        _check_aware(at, "purchases[{}].at", count - 1)
        if not 0 <= amount < math.inf:
            raise InvalidInput.field(f"purchases[{count - 1}].amount", "must be a finite amount of zero or more")
        if at <= calibration_end:
            days = spend_by_day.setdefault(purchase.customer_id, {})
            day = _utc_day(at)
            days[day] = days.get(day, 0.0) + amount
    if count == 0:
        raise InvalidInput.field("purchases", "no purchases given")
    if not spend_by_day:
        raise InvalidInput.field("calibration_end", "no customer purchased before the calibration end")
    summaries = []
    for customer_id in sorted(spend_by_day):
        by_day = spend_by_day[customer_id]
        first, *later = sorted(by_day)
        repeats = [by_day[day] for day in later]
        summaries.append(
            CustomerSummary(
                customer_id=customer_id,
                frequency=len(repeats),
                recency=(later[-1] - first if later else 0) / unit_days,
                T=(end_day - first) / unit_days,
                monetary_value=sum(repeats) / len(repeats) if repeats else 0.0,
            )
        )
    return summaries


def fit_bgnbd(summaries: Sequence[CustomerSummary]) -> BgNbdParameters:
    """Maximum-likelihood BG/NBD parameters for the customers' frequency, recency and age."""
    if not summaries:
        raise InvalidInput.field("summaries", "no customers to fit the model to")
    for index, summary in enumerate(summaries):
        _check_history(summary.frequency, summary.recency, summary.T, field=f"summaries[{index}].")
    x = np.array([s.frequency for s in summaries], dtype=np.float64)
    if not (x > 0).any():
        raise InvalidInput.field("summaries", "no customer made a repeat purchase, so purchase rates cannot be fitted")
    # Measure time in units of the mean age: the fit is then the same whatever the time unit.
    scale = float(np.mean([s.T for s in summaries]))
    t_x = np.array([s.recency for s in summaries], dtype=np.float64) / scale
    age = np.array([s.T for s in summaries], dtype=np.float64) / scale
    start = np.log([1.0, 1.0 / float(np.mean(x)), 1.0, 1.0])
    theta, mean_log_likelihood = _maximise(_bgnbd_objective(x, t_x, age), start, ("r", "alpha", "a", "b"))
    r, alpha, a, b = np.exp(theta)
    log_likelihood = mean_log_likelihood * len(summaries) - float(x.sum()) * math.log(scale)
    return BgNbdParameters(r=float(r), alpha=float(alpha) * scale, a=float(a), b=float(b),
                           log_likelihood=log_likelihood)


def fit_gamma_gamma(summaries: Sequence[CustomerSummary]) -> GammaGammaParameters:
    """Maximum-likelihood Gamma-Gamma parameters over repeat buyers with a positive mean repeat spend."""
    for index, summary in enumerate(summaries):
        if not 0 <= summary.monetary_value < math.inf:
            raise InvalidInput.field(f"summaries[{index}].monetary_value", "must be a finite number of zero or more")
    buyers = [s for s in summaries if s.frequency > 0 and s.monetary_value > 0]
    if not buyers:
        raise InvalidInput.field("summaries", "no customer made a repeat purchase of positive value")
    x = np.array([s.frequency for s in buyers], dtype=np.float64)
    # Measure money in units of the mean spend: the fit is then the same whatever the currency unit.
    scale = float(np.mean([s.monetary_value for s in buyers]))
    m = np.array([s.monetary_value for s in buyers], dtype=np.float64) / scale
    theta, mean_log_likelihood = _maximise(_gamma_gamma_objective(x, m), np.zeros(3), ("p", "q", "gamma"))
    p, q, gamma = np.exp(theta)
    log_likelihood = (mean_log_likelihood - math.log(scale)) * len(buyers)
    return GammaGammaParameters(p=float(p), q=float(q), gamma=float(gamma) * scale, log_likelihood=log_likelihood)


def probability_alive(params: BgNbdParameters, frequency: int, recency: float, T: float) -> float:
    """Probability that a customer with this history has not dropped out by the end of the calibration."""
    _check_history(frequency, recency, T)
    if frequency == 0:
        return 1.0
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    odds_dead = math.log(a / (b + frequency - 1)) + (r + frequency) * math.log((alpha + T) / (alpha + recency))
    return float(expit(-odds_dead))


def expected_purchases(params: BgNbdParameters, periods: float, frequency: int, recency: float, T: float) -> float:
    """Expected number of purchases in the next ``periods`` time units by a customer with this history."""
    _check_non_negative(periods, "periods")
    return float(_cumulative_purchases(params, np.array([periods]), frequency, recency, T)[0])


def expected_average_spend(params: GammaGammaParameters, frequency: int, monetary_value: float) -> float:
    """Expected value of a customer's future transactions given their mean spend over ``frequency`` repeats."""
    _check_frequency(frequency, "frequency")
    _check_non_negative(monetary_value, "monetary_value")
    p, q, gamma = params.p, params.q, params.gamma
    if p * frequency + q <= 1:
        raise InvalidInput.field("params", "p * frequency + q must exceed 1 for the expected spend to be finite")
    return p * (gamma + frequency * monetary_value) / (p * frequency + q - 1)


def expected_value(
    purchases_params: BgNbdParameters,
    spend_params: GammaGammaParameters,
    *,
    periods: float,
    frequency: int,
    recency: float,
    T: float,
    monetary_value: float,
    discount_rate: float = 0.0,
) -> float:
    """Expected spend over the next ``periods`` time units: expected purchases times expected average spend.

    With a ``discount_rate`` per time unit, the purchases expected in the k-th time unit from now (the last one
    possibly partial) are discounted by ``(1 + discount_rate) ** k``.
    """
    _check_non_negative(periods, "periods")
    _check_non_negative(discount_rate, "discount_rate")
    spend = expected_average_spend(spend_params, frequency, monetary_value)
    ends = np.append(np.arange(1.0, math.ceil(periods)), periods) if periods > 0 else np.array([0.0])
    cumulative = _cumulative_purchases(purchases_params, ends, frequency, recency, T)
    in_each_unit = np.diff(cumulative, prepend=0.0)
    return spend * float(np.sum(in_each_unit / (1.0 + discount_rate) ** np.ceil(ends)))


def _cumulative_purchases(params: BgNbdParameters, t: Floats, frequency: int, recency: float, T: float) -> Floats:
    """Expected purchases by each horizon in ``t``: P(alive) times the expectation of an active customer."""
    alive = probability_alive(params, frequency, recency, T)
    r, alpha, a, b = params.r + frequency, params.alpha, params.a, params.b
    c = a + b + frequency - 1
    remaining = 1 - ((alpha + T) / (alpha + T + t)) ** r * hyp2f1(r, b + frequency, c, t / (alpha + T + t))
    with np.errstate(all="ignore"):
        expected: Floats = np.float64(alive * c) / (a - 1) * remaining
    if not np.isfinite(expected).all():
        raise InvalidInput.field("params", "the model gives no finite expectation for this customer")
    return expected


def _bgnbd_objective(x: Floats, t_x: Floats, age: Floats) -> Objective:
    """Minus the mean BG/NBD log-likelihood and its gradient, as functions of the log-parameters."""
    repeat = x > 0
    x_repeat, t_x_repeat = x[repeat], t_x[repeat]

    def objective(theta: Floats) -> tuple[float, Floats]:
        r, alpha, a, b = np.exp(theta)
        still_active = -(r + x) * np.log(alpha + age)
        dropped = np.full_like(x, -np.inf)
        dropped[repeat] = np.log(a / (b + x_repeat - 1)) - (r + x_repeat) * np.log(alpha + t_x_repeat)
        either = np.logaddexp(still_active, dropped)
        w_dropped = np.exp(dropped - either)
        w_active = 1 - w_dropped
        inverse_b = np.zeros_like(x)
        inverse_b[repeat] = 1 / (b + x_repeat - 1)
        log_likelihood = (
            gammaln(r + x) - gammaln(r) + r * np.log(alpha)
            + gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
            + either
        )
        d_r = (digamma(r + x) - digamma(r) + np.log(alpha)
               - w_active * np.log(alpha + age) - w_dropped * np.log(alpha + t_x))
        d_alpha = r / alpha - (r + x) * (w_active / (alpha + age) + w_dropped / (alpha + t_x))
        d_ab = digamma(a + b) - digamma(a + b + x)
        d_a = d_ab + w_dropped / a
        d_b = d_ab + digamma(b + x) - digamma(b) - w_dropped * inverse_b
        gradient = np.array([d.mean() for d in (d_r, d_alpha, d_a, d_b)]) * np.array([r, alpha, a, b])
        return -float(log_likelihood.mean()), -gradient

    return objective


def _gamma_gamma_objective(x: Floats, m: Floats) -> Objective:
    """Minus the mean Gamma-Gamma log-likelihood of mean spends and its gradient, as functions of log-parameters."""
    log_x, log_m = np.log(x), np.log(m)

    def objective(theta: Floats) -> tuple[float, Floats]:
        p, q, gamma = np.exp(theta)
        px = p * x
        log_total = np.log(gamma + x * m)
        log_likelihood = (
            gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(gamma)
            + (px - 1) * log_m + px * log_x - (px + q) * log_total
        )
        d_p = x * (digamma(px + q) - digamma(px) + log_m + log_x - log_total)
        d_q = digamma(px + q) - digamma(q) + np.log(gamma) - log_total
        d_gamma = q / gamma - (px + q) / (gamma + x * m)
        gradient = np.array([d.mean() for d in (d_p, d_q, d_gamma)]) * np.array([p, q, gamma])
        return -float(log_likelihood.mean()), -gradient

    return objective


def _maximise(objective: Objective, start: Floats, names: tuple[str, ...]) -> tuple[Floats, float]:
    """The log-parameters maximising the mean log-likelihood, and that maximum; FitFailed if there is none."""
    bounds = [(-LOG_PARAMETER_BOUND, LOG_PARAMETER_BOUND)] * len(start)
    with np.errstate(all="ignore"):
        result = minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds,
                          options={"maxiter": 2000, "ftol": 1e-14, "gtol": GRADIENT_TOLERANCE / 10})
    theta: Floats = result.x
    if not (np.isfinite(result.fun) and np.isfinite(theta).all()):
        raise FitFailed.field("summaries", "the likelihood could not be evaluated at the estimate")
    undetermined = [
        f"{name} (runs off to {'infinity' if value > 0 else 'zero'})"
        for name, value in zip(names, theta, strict=True)
        if abs(value) > DEGENERATE_LOG_PARAMETER
    ]
    if undetermined:
        raise FitFailed.field("summaries", f"the data do not determine {', '.join(undetermined)}")
    if not result.success and np.max(np.abs(result.jac)) > GRADIENT_TOLERANCE:
        raise FitFailed.field("summaries", "the optimiser stopped before reaching the maximum likelihood")
    return theta, -float(result.fun)


def days_per_unit(time_unit: TimeUnit) -> float:
    """How many days one ``time_unit`` lasts."""
    if time_unit not in DAYS_PER_UNIT:
        raise InvalidInput.field("time_unit", f"must be one of {', '.join(get_args(TimeUnit))}")
    return DAYS_PER_UNIT[time_unit]


def _check_aware(moment: datetime, field: str, *index: int) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput.field(field.format(*index), "must carry a time zone")


def _utc_day(moment: datetime) -> int:
    """The number of the UTC calendar day of an aware moment, counted from 1 January 1970."""
    return int(moment.timestamp() // SECONDS_PER_DAY)


def _check_non_negative(value: float, field: str) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise InvalidInput.field(field, "must be a finite number of zero or more")


def _check_frequency(frequency: int, field: str) -> None:
    if isinstance(frequency, bool) or not isinstance(frequency, numbers.Integral) or frequency < 0:
        raise InvalidInput.field(field, "must be a whole number of zero or more")


def _check_history(frequency: int, recency: float, T: float, *, field: str = "") -> None:
    """A consistent history: whole repeats, 0 <= recency <= T, and recency 0 when there are no repeats."""
    _check_frequency(frequency, f"{field}frequency")
    _check_non_negative(recency, f"{field}recency")
    _check_non_negative(T, f"{field}T")
    if recency > T:
        raise InvalidInput.field(f"{field}recency", "must not exceed T, the customer's age")
    if frequency == 0 and recency != 0:
        raise InvalidInput.field(f"{field}recency", "must be 0 for a customer without repeat purchases")
