"""Customer lifetime value models: CDNOW figures from the literature, known identities, and bad input."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from functools import cache
from importlib.metadata import distribution
from pathlib import Path

import numpy as np
import pytest

from omniloom.customers.clv import (
    BgNbdParameters,
    CustomerSummary,
    FitFailed,
    GammaGammaParameters,
    Purchase,
    TimeUnit,
    expected_average_spend,
    expected_purchases,
    expected_value,
    fit_bgnbd,
    fit_gamma_gamma,
    probability_alive,
    summarise,
)
from omniloom.platform.errors import InvalidInput

CDNOW_CALIBRATION_END = datetime(1997, 9, 30, tzinfo=UTC)
# Fader, Hardie & Lee (2005) for BG/NBD; Fader & Hardie (2013) for Gamma-Gamma; both on the CDNOW sample.
PUBLISHED_BGNBD = BgNbdParameters(r=0.243, alpha=4.414, a=0.793, b=2.426, log_likelihood=-9582.4)
PUBLISHED_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def lifetimes_dataset(name: str) -> Path:
    """A data file shipped in the ``lifetimes`` distribution, found without importing the package."""
    return Path(str(distribution("lifetimes").locate_file(f"lifetimes/datasets/{name}")))


@cache
def cdnow_purchases() -> tuple[Purchase, ...]:
    """The CDNOW sample: customer (by sample index), day, and dollar value of each purchase."""
    purchases = []
    for line in lifetimes_dataset("CDNOW_sample.txt").read_text().splitlines():
        _, sample_index, day, _, value = line.split()
        at = datetime(int(day[:4]), int(day[4:6]), int(day[6:]), tzinfo=UTC)
        purchases.append(Purchase(customer_id=str(int(sample_index)), at=at, amount=float(value)))
    return tuple(purchases)


@cache
def cdnow_summaries(time_unit: TimeUnit) -> list[CustomerSummary]:
    return summarise(cdnow_purchases(), calibration_end=CDNOW_CALIBRATION_END, time_unit=time_unit)


def assert_invalid(error: pytest.ExceptionInfo[InvalidInput], field: str, message: str) -> None:
    assert [(e.field, e.message) for e in error.value.errors] == [(field, message)]
    assert error.value.detail == f"{field}: {message}"


def at(day: int, hour: int = 12) -> datetime:
    """Noon (or ``hour``) UTC on the given day of January 2026."""
    return datetime(2026, 1, day, hour, tzinfo=UTC)


# CDNOW validation


def test_cdnow_summaries_match_the_published_calibration_data() -> None:
    summaries = cdnow_summaries("week")
    published = list(csv.DictReader(lifetimes_dataset("cdnow_customers_summary_with_transactions.csv").open()))
    assert len(summaries) == len(published) == 2357
    by_id = {s.customer_id: s for s in summaries}
    for row in published:
        summary = by_id[row["ID"]]
        assert summary.frequency == int(row["x"])
        assert summary.recency == pytest.approx(float(row["t_x"]), abs=0.005)
        assert abs(summary.T - float(row["T"])) <= 0.005
        assert summary.monetary_value == pytest.approx(float(row["zbar"]), abs=0.005 + 1e-9)
    first = by_id["1"]  # bought on 1 Jan, 18 Jan and 2 Aug 1997, then on 12 Dec (after the calibration)
    assert (first.frequency, first.recency, first.T) == (2, 213 / 7, 272 / 7)
    assert first.monetary_value == pytest.approx((29.73 + 14.96) / 2)


def test_cdnow_bgnbd_fit_reproduces_the_published_parameters() -> None:
    fitted = fit_bgnbd(cdnow_summaries("week"))
    for name in ("r", "alpha", "a", "b"):
        assert getattr(fitted, name) == pytest.approx(getattr(PUBLISHED_BGNBD, name), rel=0.02), name
    assert fitted.log_likelihood == pytest.approx(PUBLISHED_BGNBD.log_likelihood, abs=0.1)


def test_cdnow_gamma_gamma_fit_reproduces_the_published_parameters() -> None:
    summaries = cdnow_summaries("week")
    assert sum(1 for s in summaries if s.frequency > 0) == 946
    fitted = fit_gamma_gamma(summaries)
    for name, value in PUBLISHED_GAMMA_GAMMA.items():
        assert getattr(fitted, name) == pytest.approx(value, rel=0.02), name
    # The mean spend the model expects of a new customer, p * gamma / (q - 1), is close to the sample's.
    repeat_spends = [s.monetary_value for s in summaries if s.frequency > 0]
    assert expected_average_spend(fitted, 0, 0.0) == pytest.approx(np.mean(repeat_spends), rel=0.05)


def test_cdnow_published_conditional_expectation() -> None:
    # The worked example of the BG/NBD paper's spreadsheet: 1.226 purchases in the next 39 weeks.
    assert expected_purchases(PUBLISHED_BGNBD, 39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=5e-4)


@pytest.mark.parametrize("time_unit", ["day", "month"])
def test_fits_in_other_time_units_scale_alpha_only(time_unit: TimeUnit) -> None:
    weekly = fit_bgnbd(cdnow_summaries("week"))
    other = fit_bgnbd(cdnow_summaries(time_unit))
    weeks_per_unit = {"day": 1 / 7, "month": 365.25 / 12 / 7}[time_unit]
    for name in ("r", "a", "b"):
        assert getattr(other, name) == pytest.approx(getattr(weekly, name), rel=1e-4), name
    assert other.alpha == pytest.approx(weekly.alpha / weeks_per_unit, rel=1e-4)
    repeats = sum(s.frequency for s in cdnow_summaries("week"))
    assert other.log_likelihood == pytest.approx(weekly.log_likelihood + repeats * math.log(weeks_per_unit), abs=1e-3)
    # Spend does not depend on time.
    assert fit_gamma_gamma(cdnow_summaries(time_unit)) == fit_gamma_gamma(cdnow_summaries("week"))


def test_predictions_agree_across_time_units() -> None:
    weekly, daily = fit_bgnbd(cdnow_summaries("week")), fit_bgnbd(cdnow_summaries("day"))
    in_weeks = expected_purchases(weekly, 39, 2, 30.43, 38.86)
    assert expected_purchases(daily, 39 * 7, 2, 30.43 * 7, 38.86 * 7) == pytest.approx(in_weeks, rel=1e-4)
    assert probability_alive(daily, 2, 30.43 * 7, 38.86 * 7) == pytest.approx(
        probability_alive(weekly, 2, 30.43, 38.86), rel=1e-4
    )


# Synthetic populations: the fit recovers the parameters they were drawn from, quickly.


def simulate(
    customers: int, truth: BgNbdParameters, spend: GammaGammaParameters, seed: int
) -> list[CustomerSummary]:
    """Customers drawn from BG/NBD and Gamma-Gamma, first buying uniformly over 12 weeks, observed until week 39."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(truth.r, 1 / truth.alpha, customers)
    drop = rng.beta(truth.a, truth.b, customers)
    age = 39 - rng.uniform(0, 12, customers)
    frequency, recency = np.zeros(customers, dtype=np.int64), np.zeros(customers)
    clock, active = np.zeros(customers), np.arange(customers)
    while active.size:
        clock[active] += rng.exponential(1 / rate[active])
        active = active[clock[active] <= age[active]]
        frequency[active] += 1
        recency[active] = clock[active]
        active = active[rng.uniform(size=active.size) >= drop[active]]
    nu = rng.gamma(spend.q, 1 / spend.gamma, customers)
    buyers = frequency > 0
    mean_spend = np.zeros(customers)
    mean_spend[buyers] = rng.gamma(spend.p * frequency[buyers], 1 / (nu[buyers] * frequency[buyers]))
    return [
        CustomerSummary(str(i), int(x), float(t_x), float(t), float(m))
        for i, (x, t_x, t, m) in enumerate(zip(frequency, recency, age, mean_spend, strict=True))
    ]


def test_fitting_200000_customers_recovers_the_truth() -> None:
    truth = BgNbdParameters(r=0.25, alpha=4.0, a=0.8, b=2.5, log_likelihood=0.0)
    spend = GammaGammaParameters(p=6.0, q=4.0, gamma=15.0, log_likelihood=0.0)
    summaries = simulate(200_000, truth, spend, seed=7)
    fitted = fit_bgnbd(summaries)
    fitted_spend = fit_gamma_gamma(summaries)
    for name in ("r", "alpha", "a", "b"):
        assert getattr(fitted, name) == pytest.approx(getattr(truth, name), rel=0.05), name
    for name in ("p", "q", "gamma"):
        assert getattr(fitted_spend, name) == pytest.approx(getattr(spend, name), rel=0.05), name


# Predictions: known values and identities


SMALL = BgNbdParameters(r=1.0, alpha=1.0, a=2.0, b=3.0, log_likelihood=0.0)


def test_hand_computed_small_case() -> None:
    # x=1, t_x=1, T=2: P(alive) = 1 / (1 + a/(b+x-1) * ((alpha+T)/(alpha+t_x))**(r+x)) = 1 / (1 + 2/3 * 9/4) = 0.4
    assert probability_alive(SMALL, 1, 1.0, 2.0) == pytest.approx(0.4, rel=1e-12)
    # E[Y(1)] = P(alive) * (a+b+x-1)/(a-1) * (1 - (3/4)**2 * 2F1(2, 4; 5; 1/4)), with
    # 2F1(2, 4; 5; z) = sum over n of (n+1) * 4/(n+4) * z**n.
    series = sum(Fraction(4 * (n + 1), n + 4) * Fraction(1, 4) ** n for n in range(80))
    expected = Fraction(2, 5) * 5 * (1 - Fraction(9, 16) * series)
    assert expected_purchases(SMALL, 1.0, 1, 1.0, 2.0) == pytest.approx(float(expected), rel=1e-12)


def test_purchase_rate_now_is_the_posterior_mean_rate_of_an_active_customer() -> None:
    # d/dt E[Y(t)] at t=0 = P(alive) * (r + x) / (alpha + T)
    for frequency, recency, age in ((0, 0.0, 5.0), (1, 1.0, 2.0), (7, 20.0, 30.0)):
        instant = 1e-6
        rate = expected_purchases(SMALL, instant, frequency, recency, age) / instant
        alive = probability_alive(SMALL, frequency, recency, age)
        assert rate == pytest.approx(alive * (1 + frequency) / (1 + age), rel=1e-5)


def test_expected_purchases_over_all_time_are_finite_when_a_exceeds_1() -> None:
    # An active customer drops out after each purchase with p ~ Beta(a, b + x): E[1/p] = (a+b+x-1)/(a-1) more buys.
    alive = probability_alive(SMALL, 1, 1.0, 2.0)
    assert expected_purchases(SMALL, 1e10, 1, 1.0, 2.0) == pytest.approx(alive * 5 / 1, rel=1e-8)


def test_probability_alive_is_1_without_repeat_purchases() -> None:
    for age in (0.0, 1.0, 38.86, 1000.0):
        assert probability_alive(PUBLISHED_BGNBD, 0, 0.0, age) == 1.0


def test_numpy_integers_are_whole_numbers() -> None:
    # Callers working on numpy arrays may pass their integers as they are.
    alive = probability_alive(SMALL, np.int64(1), 1.0, 2.0)  # type: ignore[arg-type]
    assert alive == probability_alive(SMALL, 1, 1.0, 2.0)


def test_probability_alive_rises_with_recency_and_falls_with_silence() -> None:
    by_recency = [probability_alive(PUBLISHED_BGNBD, 3, recency, 38.86) for recency in (1.0, 10.0, 20.0, 38.86)]
    assert by_recency == sorted(by_recency) and len(set(by_recency)) == 4
    assert all(0 < p < 1 for p in by_recency[:-1])
    by_age = [probability_alive(PUBLISHED_BGNBD, 3, 10.0, age) for age in (10.0, 20.0, 40.0, 80.0)]
    assert by_age == sorted(by_age, reverse=True) and len(set(by_age)) == 4


def test_expected_purchases_grow_with_the_horizon_and_start_at_zero() -> None:
    assert expected_purchases(PUBLISHED_BGNBD, 0, 2, 30.43, 38.86) == 0.0
    horizons = [expected_purchases(PUBLISHED_BGNBD, t, 2, 30.43, 38.86) for t in (1, 4, 13, 39, 52, 104)]
    assert horizons == sorted(horizons) and len(set(horizons)) == 6
    # A more recent buyer with the same history is expected to buy more.
    assert expected_purchases(PUBLISHED_BGNBD, 39, 2, 10.0, 38.86) < horizons[3]


def test_expected_average_spend_shrinks_the_customer_mean_towards_the_population_mean() -> None:
    spend = GammaGammaParameters(p=2.0, q=3.0, gamma=4.0, log_likelihood=0.0)
    # p * gamma / (q - 1) = 4 for a customer never seen again; (gamma + x*m) * p / (p*x + q - 1) = 24*2/6 = 8.
    assert expected_average_spend(spend, 0, 0.0) == 4.0
    assert expected_average_spend(spend, 2, 10.0) == 8.0
    # The more repeats, the closer to the customer's own mean.
    assert expected_average_spend(spend, 20, 10.0) == pytest.approx((4 + 200) * 2 / 42)


def test_expected_value_is_purchases_times_spend_discounted_per_period() -> None:
    spend = GammaGammaParameters(p=2.0, q=3.0, gamma=4.0, log_likelihood=0.0)
    history = (2, 30.43, 38.86)
    purchases = expected_purchases(PUBLISHED_BGNBD, 39, *history)
    value = expected_value(PUBLISHED_BGNBD, spend, periods=39, frequency=2, recency=30.43, T=38.86,
                           monetary_value=10.0)
    assert value == pytest.approx(purchases * 8.0, rel=1e-12)
    # Discounting: the purchases of each period at (1 + rate) ** period; the last, partial period counts as whole.
    one = expected_purchases(PUBLISHED_BGNBD, 1, *history)
    two_and_half = expected_purchases(PUBLISHED_BGNBD, 2.5, *history)
    two = expected_purchases(PUBLISHED_BGNBD, 2, *history)
    discounted = expected_value(PUBLISHED_BGNBD, spend, periods=2.5, frequency=2, recency=30.43, T=38.86,
                                monetary_value=10.0, discount_rate=0.1)
    by_hand = 8.0 * (one / 1.1 + (two - one) / 1.1**2 + (two_and_half - two) / 1.1**3)
    assert discounted == pytest.approx(by_hand, rel=1e-12)
    assert expected_value(PUBLISHED_BGNBD, spend, periods=0, frequency=2, recency=30.43, T=38.86,
                          monetary_value=10.0) == 0.0


# Bad input


def test_summarise_rules_same_day_merge_calibration_end_and_time_zones() -> None:
    paris = timezone(timedelta(hours=1))
    purchases = [
        Purchase("b", at(3), 10.0),
        Purchase("a", at(1, 9), 5.0),
        Purchase("a", at(1, 18), 7.0),  # same UTC day as the first: one transaction of 12
        Purchase("a", datetime(2026, 1, 9, 0, 30, tzinfo=paris), 4.0),  # 23:30 UTC on 8 January
        Purchase("a", at(8, 10), 6.0),  # same UTC day: a transaction of 10
        Purchase("a", at(15), 20.0),
        Purchase("a", at(22, 12), 1.0),  # at the calibration end: counts
        Purchase("a", at(22, 13), 100.0),  # after the calibration end: ignored
        Purchase("c", at(25), 3.0),  # first purchase after the calibration end: not a customer yet
    ]
    summaries = summarise(purchases, calibration_end=at(22, 12), time_unit="day")
    assert summaries == [
        CustomerSummary("a", frequency=3, recency=21.0, T=21.0, monetary_value=31 / 3),
        CustomerSummary("b", frequency=0, recency=0.0, T=19.0, monetary_value=0.0),
    ]
    weekly = summarise(purchases, calibration_end=at(22, 12), time_unit="week")
    assert [(s.recency, s.T) for s in weekly] == [(3.0, 3.0), (0.0, 19 / 7)]
    monthly = summarise(purchases, calibration_end=at(22, 12), time_unit="month")
    assert monthly[0].T == 21 / (365.25 / 12)


def test_summarise_rejects_bad_input() -> None:
    end = at(22)
    with pytest.raises(InvalidInput) as error:
        summarise([], calibration_end=end, time_unit="week")
    assert_invalid(error, "purchases", "no purchases given")
    with pytest.raises(InvalidInput) as error:
        summarise([Purchase("a", at(23), 1.0), Purchase("b", at(25), 2.0)], calibration_end=end, time_unit="week")
    assert_invalid(error, "calibration_end", "no customer purchased before the calibration end")
    with pytest.raises(InvalidInput) as error:
        summarise([Purchase("a", at(1), 1.0), Purchase("a", datetime(2026, 1, 2), 1.0)], calibration_end=end,
                  time_unit="week")
    assert_invalid(error, "purchases[1].at", "must carry a time zone")
    with pytest.raises(InvalidInput) as error:
        summarise([Purchase("a", at(1), 1.0)], calibration_end=datetime(2026, 1, 22), time_unit="week")
    assert_invalid(error, "calibration_end", "must carry a time zone")
    for amount in (-0.01, math.nan, math.inf):
        with pytest.raises(InvalidInput) as error:
            summarise([Purchase("a", at(1), amount)], calibration_end=end, time_unit="week")
        assert_invalid(error, "purchases[0].amount", "must be a finite amount of zero or more")
    # A purchase after the calibration end is checked too: bad data are bad wherever they fall.
    with pytest.raises(InvalidInput) as error:
        summarise([Purchase("a", at(1), 1.0), Purchase("a", at(30), -5.0)], calibration_end=end, time_unit="week")
    assert_invalid(error, "purchases[1].amount", "must be a finite amount of zero or more")
    with pytest.raises(InvalidInput) as error:
        summarise([Purchase("a", at(1), 1.0)], calibration_end=end, time_unit="year")  # type: ignore[arg-type]
    assert_invalid(error, "time_unit", "must be one of day, week, month")


def test_zero_amounts_are_purchases() -> None:
    purchases = [Purchase("a", at(1), 0.0), Purchase("a", at(2), 0.0)]
    assert summarise(purchases, calibration_end=at(8), time_unit="day") == [
        CustomerSummary("a", frequency=1, recency=1.0, T=7.0, monetary_value=0.0)
    ]


def test_fitting_rejects_empty_input_and_populations_without_repeat_buyers() -> None:
    with pytest.raises(InvalidInput) as error:
        fit_bgnbd([])
    assert_invalid(error, "summaries", "no customers to fit the model to")
    one_time_buyers = [CustomerSummary(str(i), 0, 0.0, 10.0, 0.0) for i in range(5)]
    with pytest.raises(InvalidInput) as error:
        fit_bgnbd(one_time_buyers)
    assert_invalid(error, "summaries", "no customer made a repeat purchase, so purchase rates cannot be fitted")
    free_repeats = [*one_time_buyers, CustomerSummary("free", 2, 3.0, 10.0, 0.0)]
    for summaries in ([], one_time_buyers, free_repeats):
        with pytest.raises(InvalidInput) as error:
            fit_gamma_gamma(summaries)
        assert_invalid(error, "summaries", "no customer made a repeat purchase of positive value")


def test_fitting_rejects_inconsistent_summaries() -> None:
    good = CustomerSummary("a", 2, 3.0, 10.0, 5.0)
    cases = [
        (CustomerSummary("b", -1, 0.0, 10.0, 0.0), "summaries[1].frequency", "must be a whole number of zero or more"),
        (CustomerSummary("b", 1, 11.0, 10.0, 5.0), "summaries[1].recency", "must not exceed T, the customer's age"),
        (CustomerSummary("b", 0, 1.0, 10.0, 0.0), "summaries[1].recency",
         "must be 0 for a customer without repeat purchases"),
        (CustomerSummary("b", 1, 1.0, math.nan, 5.0), "summaries[1].T", "must be a finite number of zero or more"),
    ]
    for bad, field, message in cases:
        with pytest.raises(InvalidInput) as error:
            fit_bgnbd([good, bad])
        assert_invalid(error, field, message)
    for spend in (math.inf, math.nan, -1.0):
        with pytest.raises(InvalidInput) as error:
            fit_gamma_gamma([good, CustomerSummary("b", 0, 0.0, 10.0, 0.0), CustomerSummary("c", 1, 1.0, 10.0, spend)])
        assert_invalid(error, "summaries[2].monetary_value", "must be a finite number of zero or more")


def test_data_that_do_not_determine_the_model_fail_clearly() -> None:
    # Everyone buys 5 times and last at the very end: no sign of drop-out or of differing rates.
    steady = [CustomerSummary(str(i), 5, 10.0, 10.0, 20.0) for i in range(50)]
    with pytest.raises(FitFailed) as error:
        fit_bgnbd(steady)
    assert_invalid(error, "summaries", "the data do not determine r (runs off to infinity), alpha (runs off to "
                                       "infinity), a (runs off to zero), b (runs off to infinity)")
    assert error.value.status == 422 and error.value.slug == "clv-fit-failed"
    # Everyone spends the same: no spread of spend between customers.
    with pytest.raises(FitFailed) as error:
        fit_gamma_gamma(steady)
    assert_invalid(error, "summaries", "the data do not determine p (runs off to infinity), q (runs off to infinity)")


def test_predictions_reject_bad_input() -> None:
    spend = GammaGammaParameters(p=2.0, q=3.0, gamma=4.0, log_likelihood=0.0)
    cases: list[tuple[Callable[[], float], str, str]] = [
        (lambda: probability_alive(SMALL, -1, 0.0, 1.0), "frequency", "must be a whole number of zero or more"),
        (lambda: probability_alive(SMALL, 1.5, 1.0, 1.0), "frequency",  # type: ignore[arg-type]
         "must be a whole number of zero or more"),
        (lambda: probability_alive(SMALL, 1, 2.0, 1.0), "recency", "must not exceed T, the customer's age"),
        (lambda: expected_purchases(SMALL, -1, 1, 1.0, 2.0), "periods", "must be a finite number of zero or more"),
        (lambda: expected_purchases(SMALL, math.inf, 1, 1.0, 2.0), "periods",
         "must be a finite number of zero or more"),
        (lambda: expected_purchases(SMALL, 1, 1, -1.0, 2.0), "recency", "must be a finite number of zero or more"),
        (lambda: expected_average_spend(spend, 1, -1.0), "monetary_value", "must be a finite number of zero or more"),
        (lambda: expected_average_spend(spend, True, 1.0), "frequency",
         "must be a whole number of zero or more"),
        (lambda: expected_average_spend(GammaGammaParameters(2.0, 0.9, 4.0, 0.0), 0, 0.0), "params",
         "p * frequency + q must exceed 1 for the expected spend to be finite"),
        (lambda: expected_average_spend(GammaGammaParameters(0.1, 0.5, 4.0, 0.0), 2, 3.0), "params",
         "p * frequency + q must exceed 1 for the expected spend to be finite"),
        (lambda: expected_value(SMALL, spend, periods=1, frequency=1, recency=1.0, T=2.0, monetary_value=1.0,
                                discount_rate=-0.1), "discount_rate", "must be a finite number of zero or more"),
        (lambda: expected_purchases(BgNbdParameters(1.0, 1.0, 1.0, 3.0, 0.0), 1, 1, 1.0, 2.0), "params",
         "the model gives no finite expectation for this customer"),
    ]
    for call, field, message in cases:
        with pytest.raises(InvalidInput) as error:
            call()
        assert_invalid(error, field, message)
