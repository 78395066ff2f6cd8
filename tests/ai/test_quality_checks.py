"""The data-quality checks on small arrays: robust spreads, changes far outside the usual, values
that cannot be right, bulk changes, blanked owned fields, order lines, tuning by decisions, and the
policy's errors."""

from __future__ import annotations

import math

import pytest
import yaml

from service.ai.quality import (
    QualityRuleError,
    Spread,
    appended,
    blanked_fields,
    category_spreads,
    check_blanked,
    check_changes,
    check_order_lines,
    check_swing,
    check_values,
    is_swing,
    load_policy,
    log_change,
    robust_spread,
    separating_threshold,
    spread_for,
    tuned_threshold,
    verdict,
)
from service.ai.quality.stats import MAX_CHANGES, usual_range
from service.settings import repo_path

POLICY = load_policy(yaml.safe_load(repo_path("rules/quality.yaml").read_text()))
PRICE = POLICY.changes["price"]
# A SKU whose price moves a few per cent at a time.
STEADY = [0.05, -0.04, 0.03, -0.05, 0.04, 0.02, -0.03, 0.05]


def test_robust_spread_ignores_one_wild_change() -> None:
    center, scale = robust_spread([0.01, -0.01, 0.02, -0.02, 0.0, 4.6])
    assert abs(center) < 0.011 and scale < 0.04  # the ×100 in history does not widen the usual
    assert robust_spread([]) == (0.0, 0.0)


def test_log_changes_weigh_up_and_down_alike_and_stock_stays_defined_at_zero() -> None:
    assert log_change("price", 10, 20) == pytest.approx(-log_change("price", 20, 10))  # type: ignore[operator]
    assert log_change("price", 0, 5) is None
    assert log_change("stock", 0, 0) == 0.0
    assert log_change("stock", 3, 999) == pytest.approx(math.log(1000 / 4))


def test_spread_comes_from_the_sku_then_its_category_then_the_floor() -> None:
    category = Spread(0.0, 0.2, 40, "category")
    assert spread_for(PRICE, STEADY, category).source == "sku"
    assert spread_for(PRICE, STEADY[:2], category) == Spread(0.0, 0.2, 40, "category")
    short = spread_for(PRICE, STEADY[:2], None)
    assert (short.source, short.scale) == ("floor", PRICE.floor)
    # A SKU whose price never moved still gets the floor, not a zero spread.
    assert spread_for(PRICE, [0.1] * 6, None).scale == PRICE.floor


def test_price_times_100_is_held_and_a_normal_change_passes() -> None:
    histories = {"price": STEADY}
    held = check_changes(POLICY, {"price": 25.0}, {"price": 2500.0}, histories, {})
    assert [(f.field, f.check, f.action) for f in held] == [("price", "change", "hold")]
    assert held[0].score is not None and held[0].score > 30 and "×100" in held[0].reason
    low, high = held[0].usual or (0, 0)
    assert low < 25 < high < 2500 and "usual range" in held[0].reason
    assert check_changes(POLICY, {"price": 25.0}, {"price": 27.0}, histories, {}) == []
    # Without any history the floor still catches ×100 and lets +10 % through.
    assert check_changes(POLICY, {"price": 25.0}, {"price": 2500.0}, {}, {})[0].action == "hold"
    assert check_changes(POLICY, {"price": 25.0}, {"price": 27.5}, {}, {}) == []


def test_a_sku_that_usually_moves_a_lot_is_judged_by_its_own_history() -> None:
    volatile = [0.6, -0.5, 0.7, -0.6, 0.5, -0.7]  # a clearance item that doubles and halves
    assert check_changes(POLICY, {"price": 10.0}, {"price": 20.0}, {"price": volatile}, {}) == []
    assert check_changes(POLICY, {"price": 10.0}, {"price": 20.0}, {"price": STEADY}, {})[0].action == "hold"


def test_stock_is_judged_upwards_only() -> None:
    up = check_changes(POLICY, {"stock": 12.0}, {"stock": 50_000.0}, {}, {})
    assert [(f.check, f.action) for f in up] == [("change", "hold")]
    assert check_changes(POLICY, {"stock": 500.0}, {"stock": 0.0}, {}, {}) == []  # a sell-out is no error
    lo, hi = usual_range(POLICY.changes["stock"], 12.0, spread_for(POLICY.changes["stock"], [], None), 8.0)
    assert lo == 0.0 and 12 < hi < 50_000


def test_values_that_cannot_be_right() -> None:
    found = check_values(POLICY, {"stock": -1516.0})
    assert [(f.check, f.action, f.fixed) for f in found] == [("negative_stock", "fix", 0.0)]
    assert verdict(found) == "fix"
    assert [f.check for f in check_values(POLICY, {"price": 0.0}, active=True)] == ["zero_price"]
    assert check_values(POLICY, {"price": 0.0}, active=False) == []
    below = check_values(POLICY, {"price": 5.0, "cost": 8.0})
    assert [(f.check, f.action) for f in below] == [("price_below_cost", "warn")]
    assert check_values(POLICY, {"price": 9.0, "cost": 8.0, "stock": 0.0}) == []


def test_verdict_takes_the_most_severe_action() -> None:
    warn = check_values(POLICY, {"price": 5.0, "cost": 8.0})
    hold = check_values(POLICY, {"price": 0.0})
    assert verdict([]) == "pass" and verdict(warn) == "warn" and verdict(warn + hold) == "hold"


def test_a_bulk_change_trips_on_the_share_of_the_catalogue() -> None:
    swing = POLICY.swing
    assert is_swing(swing, 30, 50) and not is_swing(swing, 10, 50)
    assert not is_swing(swing, 6, 8)  # too few SKUs with history to call it an import
    found = check_swing(swing, "price", 20.0, 23.0, 30, 50, 10)
    assert found is not None and found.check == "swing" and "60%" in found.reason
    assert check_swing(swing, "price", 20.0, 20.0, 30, 50, 10) is None  # its own price did not move
    assert check_swing(swing, "weight", 1.0, 2.0, 30, 50, 10) is None  # not a swing field


def test_category_spreads_pool_their_skus() -> None:
    spreads = category_spreads([("Tees", "price", [0.1, -0.1]), ("Tees", "price", [0.2]), ("Caps", "price", []),
                                ("Tees", "stock", [1.0])])
    assert spreads[("Tees", "price")].n == 3 and ("Caps", "price") not in spreads
    assert spreads[("Tees", "stock")].n == 1


def test_history_keeps_moves_only_and_the_last_ones() -> None:
    assert appended([0.1], 0.0) == [0.1]
    assert appended([0.1], None) == [0.1]
    kept = appended([0.01] * MAX_CHANGES, 0.5)
    assert len(kept) == MAX_CHANGES and kept[-1] == 0.5


def test_customer_edits_that_blank_fields_another_system_owns() -> None:
    before = {"email": "ann@example.com", "first_name": "Ann", "last_name": "Lee", "phone": "555"}
    after = {"email": "ann@example.com", "first_name": " ", "last_name": "Lee", "phone": ""}
    assert blanked_fields(before, after, ["email", "first_name", "phone"]) == ["first_name", "phone"]
    found = check_blanked(POLICY, before, after, editor="magento")
    assert [(f.field, f.action) for f in found] == [("first_name", "hold")]
    assert check_blanked(POLICY, before, after, editor="heartland") == []  # the owner may blank its own


def test_order_lines_that_cannot_be_right() -> None:
    lines = [{"sku": "TEE-1000", "qty": 2, "price": 20.0}, {"sku": "HOD-1001", "qty": 1516, "price": 45.0},
             {"sku": "CAP-1", "qty": 0, "price": -1.0}]
    found = check_order_lines(POLICY, lines, 68_000.0)
    assert [f.field for f in found] == ["qty", "qty", "price"] and verdict(found) == "hold"
    assert "1516" in found[0].reason and check_order_lines(POLICY, lines[:1], 40.0) == []


def test_decisions_move_the_threshold_toward_what_people_release() -> None:
    tuning = POLICY.tuning
    assert tuned_threshold(6.0, [7.0], [40.0], tuning) == 6.0  # too few decisions
    released, rejected = [6.5, 7.0, 8.0, 9.0, 7.5], [30.0, 45.0, 60.0]
    target = separating_threshold(6.0, released, rejected)
    assert 9.0 < target <= 30.0
    tuned = tuned_threshold(6.0, released, rejected, tuning)
    assert 6.0 < tuned < target
    # People who reject every hold keep the shipped threshold.
    assert tuned_threshold(6.0, [], [7.0, 9.0, 30.0, 12.0], tuning) == 6.0
    assert tuned_threshold(6.0, [100.0] * 50, [], tuning) == tuning.highest


def test_policy_errors_say_what_to_fix() -> None:
    with pytest.raises(QualityRuleError, match="changes.price: action 'block' is unknown"):
        load_policy({"changes": {"price": {"action": "block"}}})
    with pytest.raises(QualityRuleError, match="unknown field"):
        load_policy({"changes": {"colour": {}}})
    with pytest.raises(QualityRuleError, match="share between 0 and 1"):
        load_policy({"swing": {"share": 60}})
    with pytest.raises(QualityRuleError, match="only negative_stock has a fix"):
        load_policy({"impossible": {"zero_price": "fix"}})
    assert load_policy(None).changes == {}
