"""Training data: a numeric feature table with optional times and labels, from a file.

Three kinds of file load into the same :class:`Dataset`:

- order history as JSON (a list of Magento orders, or ``{"items": [...]}`` as searchCriteria returns
  it): features come from service/ai/anomaly/features.py, each order seeing only earlier orders;
- a CSV feature table (header row), any numeric columns;
- a Parquet feature table (needs the ``pyarrow`` package).

Tables are read and written with pandas; a pandas DataFrame (a notebook's, a store export's) makes
a dataset directly with :func:`dataset_from_frame`, and :meth:`Dataset.frame` gives one back.

Labels: a column (or order key) whose values are fraud/1/true/rejected or legitimate/0/false/
approved; an empty value means the row was never reviewed (unlabelled).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from service.ai.anomaly.features import (
    FEATURE_NAMES,
    InMemoryOrderHistory,
    order_features,
    parse_magento_time,
)
from training.model_card import file_sha256

POSITIVE = {"1", "1.0", "true", "yes", "fraud", "fraudulent", "reject", "rejected", "chargeback"}
NEGATIVE = {"0", "0.0", "false", "no", "legitimate", "legit", "approve", "approved", "genuine"}
UNDECIDED = {"", "nan", "none", "null", "queued", "escalated", "pending", "unknown"}
TIME_COLUMNS = ("created_at", "timestamp", "time", "date")


class DataError(Exception):
    """The data file cannot be used as given; the message says what to change."""


@dataclass
class Dataset:
    X: NDArray[np.float64]
    feature_names: list[str]
    kind: str  # "orders" or "table"
    source: str
    sha256: str
    times: list[datetime] | None = None
    labels: NDArray[np.float64] | None = None  # 1 fraud, 0 legitimate, nan unlabelled
    truth: NDArray[np.float64] | None = None  # full ground truth for evaluation (synthetic data, audits)

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def subset(self, index: NDArray[np.intp]) -> Dataset:
        return Dataset(
            X=self.X[index], feature_names=self.feature_names, kind=self.kind, source=self.source, sha256=self.sha256,
            times=[self.times[i] for i in index] if self.times is not None else None,
            labels=self.labels[index] if self.labels is not None else None,
            truth=self.truth[index] if self.truth is not None else None,
        )

    def frame(self) -> pd.DataFrame:
        """The rows as a DataFrame: the features, then created_at, label and truth where known
        (labels: 1 fraud, 0 legitimate, NaN unreviewed)."""
        frame = pd.DataFrame(self.X, columns=self.feature_names)
        if self.times is not None:
            frame["created_at"] = pd.to_datetime(self.times)
        if self.labels is not None:
            frame["label"] = self.labels
        if self.truth is not None:
            frame["truth"] = self.truth
        return frame

    def window(self) -> dict[str, str | None]:
        if not self.times:
            return {"start": None, "end": None}
        return {"start": min(self.times).isoformat(sep=" "), "end": max(self.times).isoformat(sep=" ")}


def parse_label(value: Any, where: str) -> float:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    text = str(value).strip().lower()
    if text in UNDECIDED:
        return math.nan
    if text in POSITIVE:
        return 1.0
    if text in NEGATIVE:
        return 0.0
    raise DataError(f"label {value!r} ({where}) is not understood: use fraud/1 or legitimate/0, "
                    "or leave it empty for an unreviewed row")


def parse_time(value: Any) -> datetime:
    text = str(value).strip()
    try:
        return parse_magento_time(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        raise DataError(f"time {value!r} is neither 'YYYY-MM-DD HH:MM:SS' nor ISO 8601") from None


def load_dataset(path: str | Path, *, features: Sequence[str] | None = None, label_column: str | None = None,
                 truth_column: str | None = None, time_column: str | None = None) -> Dataset:
    """Load a JSON order history, a CSV or a Parquet feature table."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _load_orders(path, features, label_column, truth_column)
    if suffix in (".csv", ".txt"):
        # Every cell as text first: labels are words, and an empty cell must stay "not reviewed".
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    elif suffix in (".parquet", ".pq"):
        try:
            frame = pd.read_parquet(path)
        except ImportError:
            raise DataError(f"{path} is Parquet: install pyarrow (`.venv/bin/pip install pyarrow`) "
                            "or export the table as CSV") from None
    else:
        raise DataError(f"{path}: unknown data format {suffix!r}; use .json (order history), .csv or .parquet")
    return dataset_from_frame(frame, source=str(path), sha256=file_sha256(path), features=features,
                              label_column=label_column, truth_column=truth_column, time_column=time_column)


def _numeric(values: pd.Series) -> NDArray[np.float64] | None:
    """The column as numbers (empty cells NaN), or None when any cell is text."""
    blank = values.isna() | values.astype(str).str.strip().isin(("", "None"))
    numbers = pd.to_numeric(values.where(~blank), errors="coerce")
    if (numbers.isna() & ~blank).any():
        return None
    return numbers.to_numpy(dtype=np.float64)


def dataset_from_records(records: Sequence[Mapping[str, Any]], *, features: Sequence[str] | None = None,
                         label_column: str | None = None, truth_column: str | None = None,
                         time_column: str | None = None, source: str = "records") -> Dataset:
    """A dataset from rows as dicts, e.g. stored order features with their review decision and time:

        dataset_from_records([{**fact.features, "created_at": fact.created_at, "label": "fraud"}, ...],
                             label_column="label")
    """
    frame = pd.DataFrame.from_records(list(records)).fillna("")
    digest = hashlib.sha256(json.dumps(list(records), sort_keys=True, default=str).encode()).hexdigest()
    return dataset_from_frame(frame, source=source, sha256=digest, features=features, label_column=label_column,
                              truth_column=truth_column, time_column=time_column)


def dataset_from_frame(frame: pd.DataFrame, *, source: str = "frame", sha256: str = "",
                       features: Sequence[str] | None = None, label_column: str | None = None,
                       truth_column: str | None = None, time_column: str | None = None) -> Dataset:
    """A dataset from a DataFrame: numeric columns are features unless named as the label, truth or
    time column (text columns such as ids and emails are left out). When every feature is an order
    feature (service/ai/anomaly/features.py), the model trained on it can score Magento orders directly."""
    path = source
    columns = frame
    if not sha256:
        sha256 = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()
    for wanted in (label_column, truth_column, time_column, *(features or ())):
        if wanted and wanted not in columns:
            raise DataError(f"column {wanted!r} is not in {path} (columns: {', '.join(columns)})")
    if time_column is None:
        time_column = next((c for c in TIME_COLUMNS if c in columns), None)
    reserved = {label_column, truth_column, time_column}
    names = list(features) if features else [c for c in columns if c not in reserved]
    matrix = []
    chosen = []
    for name in names:
        column = _numeric(columns[name])
        if column is None:
            if features:
                raise DataError(f"column {name!r} in {path} is not numeric: encode it as numbers or leave it out "
                                "of --features")
            continue  # ids, emails and other text are not features
        if np.isnan(column).any():
            raise DataError(f"column {name!r} in {path} has empty or NaN values: fill them or leave the column out")
        matrix.append(column)
        chosen.append(name)
    if not chosen:
        raise DataError(f"{path} has no numeric feature columns")
    n = len(frame)
    labels = np.array([parse_label(v, f"column {label_column}, row {i + 2}") for i, v in
                       enumerate(columns[label_column])]) if label_column else None
    truth = np.array([parse_label(v, f"column {truth_column}, row {i + 2}") for i, v in
                      enumerate(columns[truth_column])]) if truth_column else None
    times = [parse_time(v) for v in columns[time_column]] if time_column else None
    kind = "orders" if set(chosen) <= set(FEATURE_NAMES) else "table"
    return Dataset(X=np.column_stack(matrix) if n else np.empty((0, len(chosen))), feature_names=chosen,
                   kind=kind, source=source, sha256=sha256, times=times, labels=labels, truth=truth)


def _load_orders(path: Path, features: Sequence[str] | None, label_column: str | None,
                 truth_column: str | None) -> Dataset:
    data = json.loads(path.read_text(encoding="utf-8"))
    orders = data.get("items") if isinstance(data, dict) else data
    if not isinstance(orders, list) or not all(isinstance(o, dict) for o in orders):
        raise DataError(f"{path} is not an order history: expected a list of Magento orders or {{\"items\": [...]}}")
    return dataset_from_orders(orders, features=features, label_column=label_column, truth_column=truth_column,
                               source=str(path), sha256=file_sha256(path))


def dataset_from_orders(orders: Sequence[Mapping[str, Any]], *, features: Sequence[str] | None = None,
                        label_column: str | None = None, truth_column: str | None = None,
                        source: str = "orders", sha256: str = "") -> Dataset:
    """Featurize an order history, each order against the orders placed before it; rows keep the input order."""
    names = list(features) if features else list(FEATURE_NAMES)
    unknown = [n for n in names if n not in FEATURE_NAMES]
    if unknown:
        raise DataError(f"unknown order features {unknown}; order features are: {', '.join(FEATURE_NAMES)}")
    history = InMemoryOrderHistory(orders)
    ordered = list(orders)
    rows = [order_features(order, history) for order in ordered]
    X = np.array([[row[n] for n in names] for row in rows], dtype=np.float64).reshape(len(rows), len(names))
    labels = np.array([parse_label(o.get(label_column), f"order {o.get('increment_id')}") for o in ordered]) \
        if label_column else None
    truth = np.array([parse_label(o.get(truth_column), f"order {o.get('increment_id')}") for o in ordered]) \
        if truth_column else None
    if not sha256:
        sha256 = hashlib.sha256(json.dumps(list(ordered), sort_keys=True, default=str).encode()).hexdigest()
    times = [parse_magento_time(str(o["created_at"])) for o in ordered]
    return Dataset(X=X, feature_names=names, kind="orders", source=source, sha256=sha256, times=times,
                   labels=labels, truth=truth)


def write_csv(path: str | Path, dataset: Dataset, *, extra: Mapping[str, Sequence[Any]] | None = None) -> Path:
    """Write a dataset as a CSV feature table (features, then created_at and any extra columns)."""
    path = Path(path)
    frame = pd.DataFrame(dataset.X, columns=dataset.feature_names)
    if dataset.times:
        frame["created_at"] = [t.strftime("%Y-%m-%d %H:%M:%S") for t in dataset.times]
    for name, values in (extra or {}).items():
        frame[name] = list(values)
    frame.to_csv(path, index=False, float_format="%.10g")
    return path
