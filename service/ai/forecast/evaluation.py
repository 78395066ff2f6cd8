"""Forecast error against the seasonal naive baseline (the same weekday last week), on held-back days.

MASE (Hyndman & Koehler 2006) scales the mean absolute error by the in-sample MAE of the
seasonal naive forecast, so series of any size compare and < 1 means better than last week's
sales repeated; sMAPE is in percent, 0 where both forecast and actual are zero.
"""

from __future__ import annotations

import numpy as np


def seasonal_naive(train: np.ndarray, horizon: int, season: int = 7) -> np.ndarray:
    """Repeat the last ``season`` days of ``train`` over ``horizon`` days."""
    values = np.asarray(train, dtype=float)
    if len(values) < season:
        raise ValueError(f"the seasonal naive forecast needs at least {season} days of history, got {len(values)}")
    last = values[-season:]
    return np.resize(last, horizon)


def mase(actual: np.ndarray, predicted: np.ndarray, train: np.ndarray, season: int = 7) -> float:
    """Mean absolute scaled error; nan when the training series never changes week to week."""
    history = np.asarray(train, dtype=float)
    scale = float(np.mean(np.abs(history[season:] - history[:-season]))) if len(history) > season else 0.0
    if scale == 0:
        return float("nan")
    return float(np.mean(np.abs(np.asarray(actual, dtype=float) - np.asarray(predicted, dtype=float))) / scale)


def smape(actual: np.ndarray, predicted: np.ndarray) -> float:
    a, p = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    denominator = np.abs(a) + np.abs(p)
    terms = np.divide(2 * np.abs(a - p), denominator, out=np.zeros_like(denominator), where=denominator > 0)
    return float(100 * terms.mean())
