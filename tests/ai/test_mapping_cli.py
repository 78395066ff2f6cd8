"""``tillbridge mappings suggest`` on sample files."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from service.cli.main import main


def _write_samples(tmp_path: Path) -> tuple[Path, Path]:
    source = tmp_path / "magento_orders.json"
    source.write_text(json.dumps([
        {"increment_id": "000000101", "customer_email": "ava.smith@example.com", "grand_total": 54.0,
         "billing_address": {"postcode": "78701", "telephone": "512-555-0101", "street": ["1 Main St"]},
         "items": [{"sku": "TEE-1001-BLK", "qty_ordered": 1}], "gift_wrap_message": "Happy birthday, Mum!"},
        {"increment_id": "000000102", "customer_email": "li.wong@example.com", "grand_total": 12.5,
         "billing_address": {"postcode": "02110", "telephone": "617-555-0199", "street": ["9 Elm St"]},
         "items": [{"sku": "CAP-2002-NAV", "qty_ordered": 3}], "gift_wrap_message": "With love"},
    ]))
    target = tmp_path / "heartland_orders.csv"
    target.write_text("public_id,customer_email,total,postal_code,phone,line_1,item_lookup,qty,station_id\n"
                      "000000101,ava.smith@example.com,54.00,78701,512-555-0101,1 Main St,TEE-1001-BLK,1,100070\n"
                      "000000102,li.wong@example.com,12.50,02110,617-555-0199,9 Elm St,CAP-2002-NAV,3,100070\n")
    return source, target


def test_suggest_writes_a_best_first_list_per_source_field_and_the_assignment(tmp_path: Path) -> None:
    source, target = _write_samples(tmp_path)
    output = tmp_path / "suggestions.json"
    result = CliRunner().invoke(main, ["mappings", "suggest", "--source", str(source), "--target", str(target),
                                       "--top", "2", "--output", str(output),
                                       "--assignment", str(tmp_path / "assignment.json")])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output
    suggestions = json.loads(output.read_text())
    assignment = suggestions.pop("_assignment")
    threshold = suggestions.pop("_threshold")
    assert json.loads((tmp_path / "assignment.json").read_text()) == {"threshold": threshold,
                                                                       "assignment": assignment}
    assert set(suggestions) == set(assignment)
    assert "items[].sku" in suggestions and "billing_address.street[0]" in suggestions
    for candidates in suggestions.values():
        assert len(candidates) == 2
        assert [c["score"] for c in candidates] == sorted((c["score"] for c in candidates), reverse=True)
    assert suggestions["customer_email"][0]["target"] == "customer_email"
    assert assignment["billing_address.postcode"]["target"] == "postal_code"
    assert assignment["items[].sku"]["target"] == "item_lookup"
    assert assignment["gift_wrap_message"] is None


def test_a_bad_sample_file_is_reported_not_raised(tmp_path: Path) -> None:
    _, target = _write_samples(tmp_path)
    broken = tmp_path / "broken.json"
    broken.write_text("[{\"sku\": ")
    result = CliRunner().invoke(main, ["mappings", "suggest", "--source", str(broken), "--target", str(target)])
    assert result.exit_code != 0
    assert "broken.json is not valid JSON" in result.output
    missing = CliRunner().invoke(main, ["mappings", "suggest", "--source", str(tmp_path / "nope.csv"),
                                        "--target", str(target)])
    assert missing.exit_code != 0 and "cannot read" in missing.output
