"""The calibrated tree ensemble as bit masks, for fast scoring of few rows (QuickScorer).

scikit-learn's HistGradientBoosting predicts through one call per tree, several milliseconds for
a handful of candidate pairs, most of a resolution's time budget; walking all trees level by level
in numpy still costs a few milliseconds for a record's 200 candidates. Here each tree's leaves are
numbered left to right and every split keeps the mask of the leaves still reachable when the row
goes right. Per feature the splits are sorted by threshold, so the splits a value sends right are a
prefix of that list, and the AND of their masks is precomputed per prefix (and for a missing
value). Scoring a row is then one table lookup per feature, an AND across features, and the lowest
set bit of each tree's mask: its exit leaf (Lucchese et al., "QuickScorer", SIGIR 2015). The
comparisons are scikit-learn's (``x <= threshold`` goes left, a missing value goes where the split
says), so the result equals ``predict_proba``; a test holds the two together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: Mask types by leaves per tree; trees with more leaves are left to scikit-learn.
_MASK_TYPES = ((8, np.uint8), (16, np.uint16), (32, np.uint32), (64, np.uint64))


@dataclass
class FlatForest:
    thresholds: list[np.ndarray]  # per used feature: its splits' thresholds, ascending
    features: np.ndarray  # the used features' column numbers
    offsets: np.ndarray  # per used feature: its first row in ``masks``
    masks: np.ndarray  # (rows, trees): reachable leaves after a prefix of a feature's splits
    leaf_values: np.ndarray  # (trees * max_leaves,): leaf values, left to right within each tree
    max_leaves: int
    tree_fold: np.ndarray  # calibration fold of each tree
    baselines: np.ndarray  # per fold
    iso_x: list[np.ndarray]
    iso_y: list[np.ndarray]

    @classmethod
    def from_estimator(cls, estimator: Any) -> FlatForest | None:
        """Flatten a CalibratedClassifierCV(HistGradientBoostingClassifier, isotonic); None otherwise."""
        folds = getattr(estimator, "calibrated_classifiers_", None)
        if not folds or any(getattr(f, "method", "") != "isotonic" for f in folds):
            return None
        trees: list[Any] = []
        tree_fold: list[int] = []
        baselines: list[float] = []
        iso_x: list[np.ndarray] = []
        iso_y: list[np.ndarray] = []
        for fold_no, fold in enumerate(folds):
            hgb = fold.estimator
            predictors = getattr(hgb, "_predictors", None)
            if predictors is None or getattr(hgb, "n_trees_per_iteration_", 0) != 1:
                return None
            for (predictor,) in predictors:
                if predictor.nodes["is_categorical"].any():
                    return None
                trees.append(predictor.nodes)
                tree_fold.append(fold_no)
            baselines.append(float(np.ravel(hgb._baseline_prediction)[0]))
            (calibrator,) = fold.calibrators
            iso_x.append(np.asarray(calibrator.X_thresholds_, dtype=np.float64))
            iso_y.append(np.asarray(calibrator.y_thresholds_, dtype=np.float64))
        laid_out = [_lay_out(nodes, tree) for tree, nodes in enumerate(trees)]
        max_leaves = max(len(values) for values, _ in laid_out)
        mask_type = next((t for bits, t in _MASK_TYPES if max_leaves <= bits), None)
        if mask_type is None:
            return None
        leaf_values = np.zeros((len(trees), max_leaves), dtype=np.float64)
        for tree, (values, _) in enumerate(laid_out):
            leaf_values[tree, : len(values)] = values
        thresholds, features, offsets, masks = _prefix_masks(laid_out, mask_type)
        return cls(
            thresholds=thresholds, features=features, offsets=offsets, masks=masks,
            leaf_values=leaf_values.ravel(), max_leaves=max_leaves,
            tree_fold=np.array(tree_fold, dtype=np.int64), baselines=np.array(baselines, dtype=np.float64),
            iso_x=iso_x, iso_y=iso_y,
        )

    def __post_init__(self) -> None:
        lengths = np.array([len(t) for t in self.thresholds], dtype=np.int64)
        used = len(self.features)
        # Every split as the complex number (feature position + threshold j): numpy orders complex
        # numbers by real part, then imaginary part, so one searchsorted finds each value's place
        # among its own feature's thresholds for all features at once (exact float comparisons,
        # infinite thresholds included). Set part by part: 1j * inf would be nan.
        keys = np.empty(int(lengths.sum()), dtype=np.complex128)
        keys.real = np.repeat(np.arange(used), lengths)
        keys.imag = np.concatenate(self.thresholds) if used else np.empty(0)
        self._split_keys = keys
        # A value's place among all splits, plus this, is its row in ``masks`` (each feature's block
        # has two rows more than splits: none sent right, and missing).
        self._block_shift = 2 * np.arange(used, dtype=np.int64)
        self._missing_rows = self.offsets + lengths + 1
        self._positions = np.arange(used, dtype=np.float64)
        trees = self.masks.shape[1]
        self._leaf_base = np.arange(trees, dtype=np.int64) * self.max_leaves
        # Up to 16 leaves, the lowest set bit's number is a lookup in a table of 2**16 entries at
        # most (a fifth of the scoring time less than frexp); wider masks go through frexp.
        bits = self.masks.dtype.itemsize * 8
        self._lowest_bit: np.ndarray | None = None
        if bits <= 16:
            table = np.zeros(1 << bits, dtype=np.int64)
            for bit in range(bits):
                table[1 << bit :: 1 << (bit + 1)] = bit
            self._lowest_bit = table
        folds = len(self.baselines)
        self._fold_trees = [np.flatnonzero(self.tree_fold == fold) for fold in range(folds)]

    def _mask_rows(self, matrix: np.ndarray) -> np.ndarray:
        """Each value's row in ``masks``: (rows, used features). Splits with a threshold below the
        value send it right (``searchsorted``, left side); a missing value has its own row."""
        values = matrix[:, self.features]
        missing = np.isnan(values)
        query = np.empty(values.shape, dtype=np.complex128)
        query.real = self._positions
        query.imag = np.where(missing, 0.0, values)
        rows = np.searchsorted(self._split_keys, query) + self._block_shift
        return np.where(missing, self._missing_rows, rows)

    def leaves(self, matrix: np.ndarray) -> np.ndarray:
        """The value of each tree's exit leaf for each row: (trees, rows)."""
        rows = self._mask_rows(matrix)
        trees = self.masks.shape[1]
        if not rows.shape[1]:  # no splits at all: every tree is one leaf
            reachable = np.ones((len(rows), trees), dtype=self.masks.dtype)
        else:
            # AND feature by feature: one (rows, trees) table at a time, not all features' at once.
            reachable = self.masks.take(rows[:, 0], axis=0)
            for k in range(1, rows.shape[1]):
                np.bitwise_and(reachable, self.masks.take(rows[:, k], axis=0), out=reachable)
        if self._lowest_bit is not None:
            exit_leaf = self._lowest_bit.take(reachable)
        else:
            lowest = reachable & (~reachable + reachable.dtype.type(1))
            exit_leaf = np.frexp(lowest.astype(np.float64))[1] - 1  # a power of two: exact
        return self.leaf_values.take(exit_leaf.T + self._leaf_base[:, np.newaxis])

    def probabilities(self, matrix: np.ndarray) -> np.ndarray:
        """Per fold, the sum of its trees' leaf values taken tree after tree (as scikit-learn adds
        them up), calibrated; then the folds' mean."""
        by_tree = self.leaves(np.asarray(matrix, dtype=np.float64))
        out = np.zeros(by_tree.shape[1], dtype=np.float64)
        for fold, trees in enumerate(self._fold_trees):
            if len(trees) == len(by_tree):  # one fold holds every tree: no copy to pick them
                raw = by_tree.sum(axis=0) + self.baselines[fold]
            else:
                raw = by_tree[trees].sum(axis=0) + self.baselines[fold]
            out += np.interp(raw, self.iso_x[fold], self.iso_y[fold])
        return out / len(self.baselines)


@dataclass
class _Split:
    feature: int
    threshold: float
    missing_left: bool
    tree: int
    right_mask: int  # the leaves still reachable when a row goes right here


def _lay_out(nodes: np.ndarray, tree: int) -> tuple[list[float], list[_Split]]:
    """One tree's leaf values left to right, and its splits."""
    values: list[float] = []
    under: dict[int, int] = {}  # node -> mask of its leaves
    stack: list[tuple[int, bool]] = [(0, False)]
    while stack:  # depth first, left before right, each node after its children
        node, done = stack.pop()
        if nodes["is_leaf"][node]:
            under[node] = 1 << len(values)
            values.append(float(nodes["value"][node]))
        elif done:
            under[node] = under[int(nodes["left"][node])] | under[int(nodes["right"][node])]
        else:
            stack.extend(((node, True), (int(nodes["right"][node]), False), (int(nodes["left"][node]), False)))
    full = (1 << len(values)) - 1
    splits = [_Split(int(nodes["feature_idx"][node]), float(nodes["num_threshold"][node]),
                     bool(nodes["missing_go_to_left"][node]), tree, full & ~under[int(nodes["left"][node])])
              for node in under if not nodes["is_leaf"][node]]
    return values, splits


def _prefix_masks(laid_out: list[tuple[list[float], list[_Split]]], mask_type: Any
                  ) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """Per feature, the trees' reachable-leaf masks after the k lowest-threshold splits (k = 0..m)
    and for a missing value, stacked into one table."""
    by_feature: dict[int, list[_Split]] = {}
    for _, tree_splits in laid_out:
        for split in tree_splits:
            by_feature.setdefault(split.feature, []).append(split)
    trees = len(laid_out)
    every = np.iinfo(mask_type).max
    thresholds: list[np.ndarray] = []
    features: list[int] = []
    offsets: list[int] = []
    blocks: list[np.ndarray] = []
    offset = 0
    for feature in sorted(by_feature):
        splits = sorted(by_feature[feature], key=lambda s: s.threshold)
        block = np.full((len(splits) + 2, trees), every, dtype=mask_type)
        for k, split in enumerate(splits, start=1):
            block[k] = block[k - 1]
            block[k, split.tree] &= mask_type(split.right_mask)
        for split in splits:
            if not split.missing_left:
                block[len(splits) + 1, split.tree] &= mask_type(split.right_mask)
        thresholds.append(np.array([s.threshold for s in splits], dtype=np.float64))
        features.append(feature)
        offsets.append(offset)
        blocks.append(block)
        offset += len(block)
    return thresholds, np.array(features, dtype=np.int64), np.array(offsets, dtype=np.int64), np.vstack(blocks)
