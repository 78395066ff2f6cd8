"""The forecast notebook runs end to end on a short history with nbclient, and is kept without outputs."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from tests.training.test_notebooks import kernel_env, run  # noqa: F401 - the fixture is used by name

REPO = Path(__file__).resolve().parents[2]


def test_forecast_notebook_is_stored_without_outputs() -> None:
    notebook = nbformat.read(REPO / "notebooks" / "forecast.ipynb", as_version=4)
    assert all(not cell.get("outputs") and not cell.get("execution_count")
               for cell in notebook.cells if cell.cell_type == "code")


def test_forecast_notebook_compares_with_seasonal_naive_and_lists_what_sells_out(kernel_env: None) -> None:  # noqa: F811
    output = run("forecast.ipynb", "WEEKS = 10\nWEEKS_HELD = 2\nSAMPLE = 120\n")
    found = re.search(r"MASE ours ([\d.]+) vs seasonal naive ([\d.]+) on 2 held-back weeks", output)
    assert found, output[-3000:]
    ours, naive = float(found.group(1)), float(found.group(2))
    assert 0 < ours < naive  # better than last week's sales repeated, on the sandbox's history
    assert re.search(r"fitted 120 series in", output)
    risky = re.search(r"(\d+) of 120 SKU-locations sell out before their lead time", output)
    assert risky and 0 < int(risky.group(1)) < 120
