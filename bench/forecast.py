"""Stock forecasts: error against the seasonal naive baseline on held-back weeks, and the time to fit
every SKU-location of the demo catalogue.

Two kinds of data, reported apart:

* sandbox (synthetic): the Heartland sandbox's seeded history (service/sandbox/heartland/history.py),
  500 SKUs × 3 locations of daily sales; the last ``--weeks-held`` weeks are held back, everything
  before is fitted. Baseline: seasonal naive with period 7 (the same weekday last week).
* public (real): monthly retail sales bundled with sktime's wheel (nothing is downloaded): the
  shampoo sales data set (Makridakis, Wheelwright & Hyndman, 36 months); the last 6 months held
  back. Baseline: seasonal naive with period 12. Skipped when sktime is not installed.

MASE is the mean absolute error scaled by the in-sample seasonal naive error (< 1: better than the
baseline's own in-sample error); sMAPE in percent. Means over the series with a defined MASE.

    python -m bench.forecast                 # 26 weeks seeded, 4 held back
    python -m bench.forecast --weeks 52 --weeks-held 8
"""

from __future__ import annotations

import argparse
import time
from collections import Counter, defaultdict
from datetime import date

import numpy as np
import pandas as pd

from service.ai.forecast.evaluation import mase, seasonal_naive, smape
from service.ai.forecast.forecaster import forecast_panel


def sandbox_panel(weeks: int) -> tuple[pd.DataFrame, float]:
    from service.sandbox.heartland.app import create_app

    started = time.perf_counter()
    app = create_app(seed="demo", history_weeks=weeks, history_end=date(2026, 12, 1))
    seconds = time.perf_counter() - started
    h = app.extensions["heartland_sandbox"].state.sales_history
    assert h is not None
    days = pd.date_range(h.start, periods=h.days, freq="D")
    ids = [f"{i}:{loc}" for i, loc in zip(h.item_ids.tolist(), h.location_ids.tolist(), strict=True)]
    return pd.DataFrame(h.qty.astype(float), index=ids, columns=days), seconds


def evaluate(panel: pd.DataFrame, held: int, season: int, freq: str) -> dict[str, dict[str, list[float]]]:
    train = panel.iloc[:, :-held]
    ours = forecast_panel(train, held, season=season, freq=freq)
    scores: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for uid, row in zip(panel.index.astype(str), panel.to_numpy(dtype=float), strict=True):
        fitted, actual = row[:-held], row[-held:]
        naive = seasonal_naive(fitted, held, season)
        ours_mase = mase(actual, ours[uid].mean, fitted, season)
        if np.isnan(ours_mase):
            continue
        for group in ("all", ours[uid].pattern.kind):
            scores[group]["ours_mase"].append(ours_mase)
            scores[group]["naive_mase"].append(mase(actual, naive, fitted, season))
            scores[group]["ours_smape"].append(smape(actual, ours[uid].mean))
            scores[group]["naive_smape"].append(smape(actual, naive))
    return scores


def report(title: str, scores: dict[str, dict[str, list[float]]]) -> None:
    print(f"\n{title}")
    print(f"  {'series':<14}{'n':>6}{'MASE ours':>11}{'MASE naive':>12}{'sMAPE ours':>12}{'sMAPE naive':>13}")
    for group in ["all", *sorted(k for k in scores if k != "all")]:
        s = scores[group]
        print(f"  {group:<14}{len(s['ours_mase']):>6}{np.mean(s['ours_mase']):>11.3f}{np.mean(s['naive_mase']):>12.3f}"
              f"{np.mean(s['ours_smape']):>12.1f}{np.mean(s['naive_smape']):>13.1f}")


def public() -> None:
    try:
        from sktime.datasets import load_shampoo_sales
    except ImportError:
        print("\npublic data: skipped (pip install sktime: its wheel bundles the monthly sales used here)")
        return
    for name, series, held in (("shampoo sales, monthly, 36 months", load_shampoo_sales(), 6),):
        index = series.index.to_timestamp() if hasattr(series.index, "to_timestamp") else series.index
        panel = pd.DataFrame([series.to_numpy(dtype=float)], index=[name], columns=pd.DatetimeIndex(index))
        report(f"public (real): {name}; last {held} months held back, baseline seasonal naive (12)",
               evaluate(panel, held, 12, "MS"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weeks", type=int, default=26, help="weeks of history to seed")
    parser.add_argument("--weeks-held", type=int, default=4, help="weeks held back for the error figures")
    args = parser.parse_args()
    panel, seed_seconds = sandbox_panel(args.weeks)
    print(f"seeded the demo sandbox with {args.weeks} weeks of history ({len(panel)} SKU-locations) "
          f"in {seed_seconds:.2f} s (whole seed included)")
    started = time.perf_counter()
    import statsforecast  # noqa: F401 - its import is part of a cold start; timed apart

    print(f"import statsforecast: {time.perf_counter() - started:.2f} s")
    started = time.perf_counter()
    fitted = forecast_panel(panel, 28)
    fit_seconds = time.perf_counter() - started
    print(f"fit and forecast 28 days for all {len(fitted)} SKU-locations: {fit_seconds:.2f} s "
          f"({Counter(f.method for f in fitted.values())})")
    started = time.perf_counter()
    forecast_panel(panel, 28)
    print(f"the same again in the same process (no compilation to warm up): {time.perf_counter() - started:.2f} s")
    held = 7 * args.weeks_held
    report(f"sandbox (synthetic): last {args.weeks_held} weeks held back, baseline seasonal naive (7)",
           evaluate(panel, held, 7, "D"))
    public()


if __name__ == "__main__":
    main()
