"""Stock forecasts: demand per SKU and location from daily sales, days of cover, the SKUs that
will sell out before the next delivery, and how much to reorder.

Pure inference (no Flask, no store, no runtime): history in, forecasts and plans out.

- ``patterns``: each series' demand pattern by ADI and CV² (smooth, erratic, intermittent, lumpy);
- ``forecaster``: statsforecast models chosen per pattern (AutoETS with a weekly season for
  smooth and erratic series, Croston SBA for intermittent ones, IMAPA for lumpy ones);
- ``planning``: lead times from rules/forecast.yaml, days of cover, sell-out risk, reorder quantity;
- ``evaluation``: MASE and sMAPE against the seasonal naive baseline on held-back weeks.
"""
