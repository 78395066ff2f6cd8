"""Demand patterns after Syntetos, Boylan and Croston (2005): ADI, the average interval between
days with a sale, and CV², the squared coefficient of variation of the quantities on those days.

============  ==============  ===========  =====================================
pattern       ADI             CV²          forecast with
============  ==============  ===========  =====================================
smooth        < 1.32          < 0.49       AutoETS (weekly season)
erratic       < 1.32          ≥ 0.49       AutoETS (weekly season)
intermittent  ≥ 1.32          < 0.49       Croston SBA
lumpy         ≥ 1.32          ≥ 0.49       IMAPA
============  ==============  ===========  =====================================

A series with fewer than ``MIN_SALE_DAYS`` days with a sale is ``sparse``: too little to fit, it
is forecast by its average (often zero).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ADI_CUT = 1.32
CV2_CUT = 0.49
MIN_SALE_DAYS = 3
PATTERNS = ("smooth", "erratic", "intermittent", "lumpy", "sparse")


@dataclass(frozen=True)
class Pattern:
    kind: str
    adi: float  # average days between sales (inf: never sold)
    cv2: float  # squared coefficient of variation of the non-zero quantities

    @property
    def intermittent(self) -> bool:
        return self.kind in ("intermittent", "lumpy")


def classify(y: np.ndarray) -> Pattern:
    """The demand pattern of one daily series (oldest first; negative days, net returns, count as no sale)."""
    values = np.asarray(y, dtype=float)
    sales = values[values > 0]
    if len(sales) < MIN_SALE_DAYS:
        return Pattern("sparse", float("inf") if not len(sales) else len(values) / len(sales), 0.0)
    adi = len(values) / len(sales)
    cv2 = float(np.var(sales) / np.mean(sales) ** 2)
    if adi < ADI_CUT:
        return Pattern("smooth" if cv2 < CV2_CUT else "erratic", adi, cv2)
    return Pattern("intermittent" if cv2 < CV2_CUT else "lumpy", adi, cv2)
