"""The stock forecaster on small synthetic series whose truth is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from service.ai.forecast.evaluation import mase, seasonal_naive, smape
from service.ai.forecast.forecaster import fill_stockouts, forecast
from service.ai.forecast.patterns import classify
from service.ai.forecast.planning import LeadTimes, PolicyError, plan

WEEK = np.array([0.8, 0.8, 0.9, 1.0, 1.2, 1.6, 1.1])


def long_format(series: dict[str, np.ndarray], start: str = "2026-01-05") -> pd.DataFrame:
    days = pd.date_range(start, periods=len(next(iter(series.values()))), freq="D")
    return pd.concat([pd.DataFrame({"unique_id": uid, "ds": days, "y": y}) for uid, y in series.items()])


def test_patterns_follow_adi_and_cv2() -> None:
    rng = np.random.default_rng(1)
    assert classify(rng.poisson(20, 140)).kind == "smooth"
    assert classify(np.where(rng.random(140) < 0.1, 3, 0)).kind == "intermittent"  # sells one day in ten, same qty
    lumpy = np.where(rng.random(140) < 0.1, rng.choice([1, 30], 140), 0)
    assert classify(lumpy).kind == "lumpy"
    erratic = rng.choice([1, 40], 140)
    assert classify(erratic).kind == "erratic"
    assert classify(np.zeros(140)).kind == "sparse"


def test_intermittent_series_get_a_croston_type_method_and_steady_ones_ets() -> None:
    rng = np.random.default_rng(2)
    intermittent = np.where(rng.random(112) < 0.12, rng.integers(1, 3, 112), 0).astype(float)
    steady = rng.poisson(10 * np.resize(WEEK, 112)).astype(float)
    result = forecast(long_format({"slow": intermittent, "fast": steady}), 14)
    assert result["slow"].method in ("CrostonSBA", "IMAPA")
    assert result["slow"].pattern.intermittent
    assert result["fast"].method == "AutoETS"
    # a Croston forecast is flat at about the average demand per day
    assert np.ptp(result["slow"].mean) < 1e-9
    assert result["slow"].daily_demand == pytest.approx(intermittent.mean(), rel=0.6)


def test_a_steady_weekly_series_is_forecast_close_to_the_truth_and_beats_seasonal_naive() -> None:
    rng = np.random.default_rng(3)
    truth = 12 * np.resize(WEEK, 140)
    sales = rng.poisson(truth).astype(float)
    train, actual = sales[:-14], sales[-14:]
    result = forecast(long_format({"tee": train}), 14)["tee"]
    assert np.abs(result.mean - truth[-14:]).mean() < 0.15 * truth.mean()  # within 15 % of the true mean level
    assert result.mean[5] > result.mean[0]  # Saturday above Monday: the weekly season is kept
    assert mase(actual, result.mean, train) < mase(actual, seasonal_naive(train, 14), train)


def test_forecasts_are_never_negative_and_missing_days_count_as_zero() -> None:
    days = pd.date_range("2026-03-02", periods=70, freq="D")
    sold = pd.DataFrame({"unique_id": "cap", "ds": days[::5], "y": 2.0})  # only the days with a sale, as the analyzer gives
    result = forecast(sold, 7, start=days[0].date(), end=days[-1].date())["cap"]
    assert (result.mean >= 0).all()
    assert result.daily_demand == pytest.approx(2 / 5, rel=0.5)
    assert result.pattern.adi == pytest.approx(5.0)


def test_stock_out_runs_in_a_smooth_series_are_filled_with_the_weekdays_average() -> None:
    y = np.resize(np.array([5.0, 5, 5, 5, 5, 9, 7]), 42)
    y[20:27] = 0  # a week with an empty shelf
    filled, days = fill_stockouts(y, np.resize(np.arange(7), 42))
    assert days == 7
    assert filled[20:27].sum() == pytest.approx(41.0)  # one ordinary week: 5×5 + 9 + 7
    short_gap = np.resize(np.array([5.0, 5, 0, 0, 5, 9, 7]), 42)
    assert fill_stockouts(short_gap, np.resize(np.arange(7), 42))[1] == 0  # two quiet days are demand, not a stock-out


def test_days_of_cover_risk_and_reorder_follow_from_demand_and_stock() -> None:
    rng = np.random.default_rng(4)
    result = forecast(long_format({"mug": rng.poisson(4, 84).astype(float)}), 28)["mug"]
    low = plan(result, on_hand=10, lead_days=7, review_days=7, service_level=0.95)
    assert low.days_of_cover == pytest.approx(10 / result.daily_demand)
    assert low.at_risk and low.days_of_cover is not None and low.days_of_cover < 7
    expected = result.daily_demand * 14 + low.safety_stock - 10
    assert low.reorder_qty == int(np.ceil(expected))
    high = plan(result, on_hand=500, lead_days=7)
    assert not high.at_risk and high.reorder_qty == 0
    assert plan(result, 10, 7, service_level=0.99).safety_stock > low.safety_stock
    sold_out = plan(result, on_hand=0, lead_days=7)
    assert sold_out.days_of_cover == 0 and sold_out.at_risk


def test_lead_times_come_from_the_rules_most_specific_first() -> None:
    rules = LeadTimes.from_rules({"lead_days": 10, "locations": {"WH": 5, "Downtown Store": {"lead_days": 3}},
                                  "vendors": {"42": 21}})
    assert rules.lead_for(["NS", "Northside Store"]) == 10
    assert rules.lead_for(["WH", "Web Warehouse"]) == 5
    assert rules.lead_for(["DT", "Downtown Store"]) == 3
    assert rules.lead_for(["WH"], vendor="42") == 21
    with pytest.raises(PolicyError, match="service_level must be between"):
        LeadTimes.from_rules({"service_level": 95})
    with pytest.raises(PolicyError, match="unknown key 'lead_time'"):
        LeadTimes.from_rules({"lead_time": 7})
    with pytest.raises(PolicyError, match=r"locations.WH.lead_days must be a whole number"):
        LeadTimes.from_rules({"locations": {"WH": "five"}})


def test_the_shipped_rules_file_loads() -> None:
    import yaml

    from service.settings import repo_path

    rules = LeadTimes.from_rules(yaml.safe_load(repo_path("rules/forecast.yaml").read_text()))
    assert rules.lead_for(["WH"]) < rules.lead_days


def test_error_measures() -> None:
    train = np.resize(np.array([1.0, 2, 3, 4, 5, 6, 7]), 28) + np.arange(28) % 2
    assert mase(train[-7:], train[-7:], train) == 0
    assert smape(np.array([0.0, 2]), np.array([0.0, 2])) == 0
    assert smape(np.array([1.0]), np.array([3.0])) == pytest.approx(100.0)
    assert np.isnan(mase(np.ones(7), np.ones(7), np.ones(28)))  # a flat history gives no scale
    assert list(seasonal_naive(np.arange(14.0), 9)) == [7, 8, 9, 10, 11, 12, 13, 7, 8]
