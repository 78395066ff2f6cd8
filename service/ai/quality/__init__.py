"""Data quality: the checks a record passes before a flow writes it, learned from the store's own
history. Pure: no store, no Flask. ``policy`` reads rules/quality.yaml, ``stats`` the robust spread
of a field's changes (per SKU, per category, with a floor), ``checks`` the checks and their verdict,
``tuning`` the thresholds people's decisions move. The flows' ``quality`` step
(service/flows/checks/quality.py) reads the history from the store and acts on the verdict.
"""

from service.ai.quality.checks import (
    Finding,
    blanked_fields,
    check_blanked,
    check_change,
    check_changes,
    check_order_lines,
    check_swing,
    check_values,
    is_swing,
    verdict,
)
from service.ai.quality.policy import ChangeRule, QualityPolicy, QualityRuleError, load_policy
from service.ai.quality.stats import Spread, appended, category_spreads, log_change, robust_spread, spread_for
from service.ai.quality.tuning import separating_threshold, tuned_threshold

__all__ = ["ChangeRule", "Finding", "QualityPolicy", "QualityRuleError", "Spread", "appended", "blanked_fields",
           "category_spreads", "check_blanked", "check_change", "check_changes", "check_order_lines",
           "check_swing", "check_values", "is_swing", "load_policy", "log_change", "robust_spread",
           "separating_threshold", "spread_for", "tuned_threshold", "verdict"]
