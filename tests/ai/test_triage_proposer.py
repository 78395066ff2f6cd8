"""Failure triage's inference: the rules name the causes our flows and sandboxes really raise, the
neighbour model outranks a rule once people disagree with it, a rejection moves the next proposal,
and a rules file that cannot be used says what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from service.ai.triage import (
    Example,
    Failure,
    Rulebook,
    RulebookError,
    TriageModel,
    feature_text,
    normalise,
    observed_example,
    propose,
)

RULES = Path(__file__).resolve().parents[2] / "rules" / "triage.yaml"


@pytest.fixture(scope="module")
def book() -> Rulebook:
    return Rulebook.from_spec(yaml.safe_load(RULES.read_text()))


def sku_failure(sku: str, number: int) -> Failure:
    return Failure("orders", "not_found",
                   f"Magento SKU '{sku}' not found in Heartland (flow orders, order #0000003{number:02d}, line 1) — add "
                   "the item in Heartland (Item # = SKU) or map the SKU in rules/mappings/orders.canonical_to_heartland"
                   ".yaml, then retry", body={"sku": sku, "line": 1}, kind="review")


# Messages as the flows, the connectors and the sandboxes word them (service/flows/, service/sandbox/).
KNOWN = [
    (sku_failure("GIFT-1", 1), "unknown_sku", "retry_after_sku_exists"),
    (Failure("inventory", "not_found", "Magento has no product 'CAP-9' to hold its stock"),
     "magento_product_missing", "retry_after_sku_exists"),
    (Failure("payments", "data", "heartland POST sales/orders/31/payments answered 422: Validation failed",
             status=422, body={"error": "validation_error", "details": {"order_id": [
                 "the order is complete; it takes no more payments; record it on the invoice that fulfilled it "
                 "(sales/invoices/7/payments)"]}}), "payment_on_completed_order", "record_against_invoice"),
    (Failure("refunds", "data", "Heartland order 31 is complete; it takes no refund payment"),
     "payment_on_completed_order", "record_against_invoice"),
    (Failure("payments", "not_found", "Heartland has no payment type 'Klarna'"), "payment_type_missing", "fix_rules"),
    (Failure("grids", "data", "magento POST products/attributes/color/options answered 400: Admin store attribute "
             "option label \"Teal\" is already exists.", status=400), "magento_attribute_option_missing",
     "add_attribute_option"),
    (Failure("customers", "data", "magento POST customers answered 400: A customer with the same email address "
             "already exists in an associated website.", status=400), "customer_email_conflict", "resolve"),
    (Failure("orders", "data", "Magento order #000000301 cannot be mapped: template orders.magento_to_canonical v3: "
             "grand_total: required, but base_total is empty"), "mapping_missing", "apply_mapping_change"),
    (Failure("orders", "rate_limited", "Heartland has been unavailable since 2026-12-07 04:13:21 UTC (0 min, 0 waits): "
             "heartland GET sales/orders answered 429: slow down"), "rate_limited", "retry"),
    (Failure("orders", "auth", "heartland GET sales/orders answered 401: unauthorized", status=401), "auth_failed",
     "fix_credentials"),
    (Failure("orders", "retryable", "heartland is unavailable (circuit open for 8 s) (gave up after 8 attempts)"),
     "destination_unavailable", "retry"),
    (Failure("customers", "data", "Heartland customer 12 is not valid: email: Not a valid email address."),
     "validation_error", "retry"),
    (Failure("orders", "fatal", "unexpected KeyError: 'lines'"), "unexpected_error", "retry"),
]


@pytest.mark.parametrize(("failure", "cause", "action"), KNOWN, ids=[c for _, c, _ in KNOWN])
def test_known_causes_are_named_with_their_fix(book: Rulebook, failure: Failure, cause: str, action: str) -> None:
    proposal = propose(failure, book)
    assert (proposal.cause, proposal.action, proposal.source) == (cause, action, "rule")
    assert proposal.fix and "{" not in proposal.fix, "every placeholder of the fix is filled in"
    assert 0 < proposal.confidence <= 1


def test_the_unknown_sku_proposal_says_create_the_item_or_map_the_sku(book: Rulebook) -> None:
    proposal = propose(sku_failure("GIFT-1", 1), book)
    assert "SKU GIFT-1 has no item in Heartland: create the item" in proposal.fix
    assert "map the SKU" in proposal.fix and proposal.one_click


def test_messages_are_normalised_and_records_reduced_to_their_shape() -> None:
    assert normalise("SKU 'AB-1' not found (order #000000301, line 2) for ann@example.com") == \
        "SKU <sku> not found (order #<n>, line <n>) for <email>"
    text = feature_text(sku_failure("tee-1000-old", 4))
    assert "sku_shape=aaa-9999-aaa" in text and "sku_prefix=TEE" in text and "000000304" not in text


def test_history_outranks_a_rule_once_people_disagree(book: Rulebook) -> None:
    # People mapped old lowercase SKUs three times; they created the item for new GIFT SKUs.
    history = [observed_example(book, sku_failure(f"tee-100{n}-old", n), "apply_mapping_change") for n in range(3)]
    history += [observed_example(book, sku_failure(f"GIFT-{n}", 10 + n), "retry") for n in range(3)]
    model = TriageModel(history, min_similarity=book.min_similarity, neighbours=book.neighbours)
    old = propose(sku_failure("mug-1003-old", 20), book, model)
    assert (old.action, old.source, old.cause) == ("apply_mapping_change", "history", "unknown_sku")
    new = propose(sku_failure("GIFT-77", 21), book, model)
    assert new.action == "retry_after_sku_exists"
    assert new.confidence > propose(sku_failure("GIFT-77", 21), book).confidence, "agreeing history adds confidence"


def test_one_rejection_moves_the_proposal_for_a_near_identical_failure(book: Rulebook) -> None:
    rejected = Example(feature_text(sku_failure("tee-1000-old", 1)), "unknown_sku", "retry_after_sku_exists", -1.0)
    model = TriageModel([rejected], min_similarity=book.min_similarity)
    assert propose(sku_failure("tee-1000-old", 2), book, model).action == "apply_mapping_change"
    assert propose(Failure("orders", "auth", "heartland answered 401"), book, model).action == "fix_credentials", \
        "a rejection says nothing about failures unlike it"


def test_a_fallback_cause_gives_way_to_the_cause_people_saw(book: Rulebook) -> None:
    odd = Failure("orders", "data", "heartland POST sales/orders answered 422: station is closed", status=422)
    assert propose(odd, book).cause == "validation_error"
    model = TriageModel([Example(feature_text(odd), "rules_invalid", "fix_rules", 1.0)] * 3,
                        min_similarity=book.min_similarity)
    learned = propose(odd, book, model)
    assert (learned.cause, learned.action, learned.source) == ("rules_invalid", "fix_rules", "history")


@pytest.mark.parametrize(("spec", "says"), [
    ([], "must be a mapping"),
    ({"actions": {"retry": {"observed_as": "shrug"}}, "causes": {}, "rules": []}, "observed_as 'shrug'"),
    ({"actions": {"retry": {"observed_as": "retry"}}, "causes": {"x": {"action": "fly"}}, "rules": []},
     "names action 'fly'"),
    ({"actions": {"retry": {"observed_as": "retry"}}, "causes": {"x": {"action": "retry"}},
      "rules": [{"cause": "x", "message": "("}]}, "does not compile"),
    ({"actions": {"retry": {"observed_as": "retry"}}, "causes": {"x": {"action": "retry"}},
      "rules": [{"cause": "x", "class": ["data"]}]}, "the last rule must have no conditions"),
])
def test_a_rules_file_that_cannot_be_used_says_what_to_fix(spec: object, says: str) -> None:
    with pytest.raises(RulebookError, match=says):
        Rulebook.from_spec(spec)
