"""`tillbridge mappings import|versions|activate|rollback|export` against a real store and a copy of rules/."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from service.cli.main import main
from service.settings import repo_path

TEMPLATE = "orders.canonical_to_heartland"


@pytest.fixture
def rules_dir(settings: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "rules"
    shutil.copytree(repo_path("rules"), folder)
    for key in ("DATABASE_URL", "REDIS_URL", "DATA_DIR"):
        monkeypatch.setenv(key, str(settings[key]))
    monkeypatch.setenv("RULES_DIR", str(folder))
    monkeypatch.setenv("AUTO_MIGRATE", "0")
    return folder


def run(*args: str) -> str:
    result = CliRunner().invoke(main, ["mappings", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_import_edit_export_round_trip(rules_dir: Path) -> None:
    assert f"{TEMPLATE}: saved as version 1 (active)" in run("import", TEMPLATE, "--activate")
    assert f"{TEMPLATE}: unchanged, already version 1 (active)" in run("import", TEMPLATE)

    path = rules_dir / "mappings" / f"{TEMPLATE}.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["fields"]["custom.magento_store"] = {"value": "web"}
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    assert f"{TEMPLATE}: saved as version 2 (not active)" in run("import", TEMPLATE)
    assert "orders.canonical_to_heartland@2 is active" in run("activate", TEMPLATE, "2")
    listing = run("versions", TEMPLATE)
    assert listing.splitlines()[0].startswith("*    2") and "imported from" in listing
    assert "rolled back: orders.canonical_to_heartland@1 is active" in run("rollback", TEMPLATE)

    path.unlink()
    out = run("export", TEMPLATE)
    assert f"{TEMPLATE}: wrote {path}" in out
    assert yaml.safe_load(path.read_text())["fields"]["custom.magento_store"] == "store_code"
    run("export", TEMPLATE, "--version", "2")
    assert yaml.safe_load(path.read_text())["version"] == 2


def test_unknown_templates_and_versions_are_refused(rules_dir: Path) -> None:
    result = CliRunner().invoke(main, ["mappings", "export", "orders.nope"])
    assert result.exit_code == 1 and "no mapping template 'orders.nope'" in result.output
    result = CliRunner().invoke(main, ["mappings", "activate", TEMPLATE, "7"])
    assert result.exit_code == 1 and "has no version 7" in result.output
    assert "no active version" in run("export")


# Two small schemas, as training/mapping_data/seed.yaml writes them: the command's own work (reading
# the page's decisions from the store, training with them, writing the model) without cross-validating
# every candidate on the whole seed set; tests/training/test_mapping_seed.py covers that set.
SMALL_SEED = """
schemas:
  a:
    - Email | string | email
    - Zip | string | postcode
    - Title | string | product_name
  b:
    - email | string | email
    - postal_code | string | postcode
    - name | string | product_name
    - notes | string | note
  c:
    - cust_mail | string | email
    - post_code | string | postcode
    - label | string | product_name
pairs:
  - {source: a, target: b, pairs: {Email: email, Zip: postal_code, Title: name}}
  - {source: c, target: b, pairs: {cust_mail: email, post_code: postal_code, label: name}}
"""


def test_retrain_learns_from_the_decisions_made_on_the_page(rules_dir: Path, settings: dict[str, Any],
                                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import training.mapping
    from service.ai.mapping.model import Combiner
    from service.ai.mapping.schema import Field
    from service.mappings.suggestions import record_decision
    from service.store.db import Store

    seed = tmp_path / "seed.yaml"
    seed.write_text(SMALL_SEED)
    monkeypatch.setattr(training.mapping, "train", functools.partial(training.mapping.train, seed_path=seed))
    store = Store(settings["DATABASE_URL"])
    record_decision(store, Field("cust_mail", "string"), Field("email", "string"), True, by="ann")
    record_decision(store, Field("cust_mail", "string"), Field("first_name", "string"), False, by="ann")
    store.dispose()
    output = tmp_path / "combiner.joblib"
    out = run("retrain", "--output", str(output))
    assert "and 2 decision(s)" in out
    combiner = Combiner.load(output)
    assert combiner.threshold > 0 and combiner.meta["feedback"] == 2 and combiner.meta["seed_pairs"] == 2
