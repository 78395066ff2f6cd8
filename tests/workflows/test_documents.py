"""Workflow documents on their own: JSONata with limits, the rule builder, validation with the reason
per step, versions (stale drafts refused, publish refused without effect declarations, rollback),
the diff in words, the YAML round trip and the CLI."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from service.workflows import actions, conditions, expressions, files, versions
from service.workflows.diff import in_words
from service.workflows.model import Workflow, WorkflowError, publish_problems

POINTS = ["after normalize", "after check", "before deliver", "after confirm"]


def document() -> dict[str, Any]:
    return {
        "workflow": "orders", "flow": "orders", "trigger": {"kind": "event"},
        "steps": [
            {"id": "skip-pos", "type": "filter", "at": "after normalize",
             "config": {"rule": {"field": "order.extra.tags", "op": "contains", "value": "pos-only"},
                        "reason": "order {{order.number}} is tagged pos-only"}},
            {"id": "tell", "type": "notify", "at": "after confirm",
             "config": {"channel": "webhook", "url": "https://hooks.example.com/x", "message": "synced {{order.number}}",
                        "binding": "notice", "idempotency_key": "synced:{{order.number}}"}},
        ],
    }


def test_expressions_are_jsonata_with_time_and_depth_limits() -> None:
    doc = {"order": {"number": "000000042", "grand_total": 1250.0, "lines": [{"qty": 2}, {"qty": 3}]}}
    assert expressions.evaluate("$sum(order.lines.qty)", doc) == 5
    assert expressions.render("order {{order.number}}: {{order.grand_total}}", doc) == "order 000000042: 1250"
    with pytest.raises(expressions.ExpressionError, match="not valid JSONata"):
        expressions.check("order.grand_total >")
    with pytest.raises(expressions.ExpressionError, match="Stack overflow|too deeply"):
        expressions.evaluate("($f := function($n){$n < 1 ? 0 : 1 + $f($n - 1)}; $f(100000))", doc)
    with pytest.raises(expressions.ExpressionError, match="timeout"):
        expressions.evaluate("($loop := function($n){$n > 0 ? $loop($n + 1) : 0}; $loop(1))", doc)
    # Python is not reachable from an expression: a name is only a field lookup.
    assert expressions.evaluate("__import__", doc) is None


def test_the_rule_builder_writes_jsonata_and_reads_as_a_sentence() -> None:
    rule = {"any": [{"all": [{"field": "order.grand_total", "op": ">", "value": 1000},
                             {"field": "vars.prior.count", "op": "=", "value": 0}]},
                    {"field": "order.email", "op": "starts_with", "value": "vip"}]}
    condition = conditions.to_jsonata(rule)
    assert expressions.truthy(condition, {"order": {"grand_total": 1200, "email": "a@b"}, "vars": {"prior": {"count": 0}}})
    assert not expressions.truthy(condition, {"order": {"grand_total": 1200, "email": "a@b"},
                                              "vars": {"prior": {"count": 2}}})
    assert expressions.truthy(condition, {"order": {"grand_total": 5, "email": "vip@b"}, "vars": {}})
    assert conditions.in_words(rule) == ('(order.grand_total is more than 1000 and vars.prior.count equals 0) or '
                                         'order.email starts with "vip"')
    with pytest.raises(conditions.RuleError, match="must be a dotted name"):
        conditions.to_jsonata({"field": "order.total) or (true", "op": "=", "value": 1})
    with pytest.raises(conditions.RuleError, match="is not one of"):
        conditions.to_jsonata({"field": "order.total", "op": "~", "value": 1})
    # A value is a literal: text that looks like an expression stays text.
    assert not expressions.truthy(conditions.to_jsonata({"field": "a", "op": "=", "value": "\" or true or \""}),
                                  {"a": "x"})


def test_a_bad_document_lists_every_problem_by_step() -> None:
    bad = document()
    bad["steps"][0]["at"] = "somewhere"
    bad["steps"][1]["config"]["channel"] = "pigeon"
    bad["steps"].append({"id": "skip-pos", "type": "set", "at": "after check", "config": {"target": "x", "value": "1"}})
    with pytest.raises(WorkflowError) as caught:
        Workflow.from_dict(bad, points=POINTS, locked=["deliver"])
    problems = caught.value.problems
    assert "step 'skip-pos': at 'somewhere' must be one of the flow's insertion points: after normalize, after " \
           "check, before deliver, after confirm" in problems
    assert "step 'tell': channel must be one of webhook, slack, email" in problems
    assert "step 'skip-pos': the id is used twice (or names a built-in step); ids must be unique" in problems
    assert any("target 'x' must be vars.NAME" in p for p in problems)


def test_publish_needs_binding_and_idempotency_key_on_every_effect() -> None:
    keyless = document()
    del keyless["steps"][1]["config"]["idempotency_key"]
    problems = publish_problems(Workflow.from_dict(keyless, points=POINTS))
    assert len(problems) == 1 and problems[0].startswith(
        "step 'tell' (notify) changes another system but declares no idempotency_key")
    assert publish_problems(Workflow.from_dict(document(), points=POINTS)) == []


def test_the_diff_says_what_changed_in_words() -> None:
    old = Workflow.from_dict(document(), points=POINTS)
    changed = copy.deepcopy(document())
    changed["steps"][0]["at"] = "after check"
    changed["steps"][0]["config"]["reason"] = "POS only"
    changed["steps"].append({"id": "wait-a-bit", "type": "wait", "at": "before deliver", "config": {"seconds": 30}})
    del changed["steps"][1]
    lines = in_words(old, Workflow.from_dict(changed, points=POINTS))
    assert "added step 'wait-a-bit' (wait) at before deliver: wait 30 s" in lines
    assert any(line.startswith("removed step 'tell' (notify)") for line in lines)
    assert "step 'skip-pos' moved from after normalize to after check" in lines
    assert "step 'skip-pos': reason changed from \"order {{order.number}} is tagged pos-only\" to \"POS only\"" in lines


def test_drafts_refuse_a_stale_save_and_versions_publish_and_roll_back(runtime: Any) -> None:
    store = runtime.store
    first = actions.save(runtime, document(), base_revision=None, actor="ana")
    second = copy.deepcopy(document())
    second["steps"][0]["config"]["reason"] = "tagged pos-only"
    saved = actions.save(runtime, second, base_revision=first.revision, actor="ana")
    assert saved.revision == 2
    with pytest.raises(versions.StaleDraft, match=r"ana saved version 1 \(revision 2\) at .* while you edited from "
                                                  r"revision 1: reload"):
        actions.save(runtime, document(), base_revision=1, actor="ben")
    assert actions.publish(runtime, "orders", actor="ana").number == 1
    assert versions.get(store, "orders", 1).state == "published"
    third = actions.save(runtime, document(), base_revision=None, actor="ben")
    assert third.number == 2
    actions.publish(runtime, "orders", actor="ben")
    assert versions.live_version(store, "orders") == 2
    assert versions.rollback(store, "orders", actor="ana") == 1
    assert versions.rollback(store, "orders", actor="ana") == 0
    with pytest.raises(versions.VersionError, match="nothing to roll back"):
        versions.rollback(store, "orders", actor="ana")
    with pytest.raises(versions.VersionError, match="was never published"):
        versions.rollback(store, "orders", actor="ana", to=7)
    assert versions.get(store, "orders", 1).document["steps"][0]["config"]["reason"] == "tagged pos-only"


def test_files_round_trip_and_the_cli(runtime: Any, settings: dict[str, Any], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from service.cli.main import main

    for key, value in settings.items():
        monkeypatch.setenv(key, str(value))
    monkeypatch.setenv("RULES_DIR", str(tmp_path / "rules"))
    path = files.write(document(), version=0, state="draft", path=tmp_path / "in.yaml")
    assert files.read(path) == document()

    cli = CliRunner()
    imported = cli.invoke(main, ["workflows", "import", str(path)])
    assert imported.exit_code == 0, imported.output
    assert "saved" in imported.output and "version 1, revision 1" in imported.output
    again = cli.invoke(main, ["workflows", "import", str(path)])
    assert again.exit_code != 0 and "add --replace-draft" in again.output
    shown = cli.invoke(main, ["workflows", "show", "orders"])
    assert "▸ after normalize" in shown.output and "skip-pos" in shown.output and "🔒 deliver" in shown.output
    published = cli.invoke(main, ["workflows", "publish", "orders"])
    assert published.exit_code == 0 and "published version 1" in published.output, published.output
    exported = cli.invoke(main, ["workflows", "export", "orders"])
    assert exported.exit_code == 0, exported.output
    out = tmp_path / "rules" / "workflows" / "orders.yaml"
    assert files.read(out) == document() and "version 1 (published)" in out.read_text()
    rolled = cli.invoke(main, ["workflows", "rollback", "orders"])
    assert rolled.exit_code == 0 and "built-in steps alone" in rolled.output

    keyless = document()
    del keyless["steps"][1]["config"]["binding"]
    files.write(keyless, version=0, state="draft", path=tmp_path / "keyless.yaml")
    assert cli.invoke(main, ["workflows", "import", str(tmp_path / "keyless.yaml")]).exit_code == 0
    refused = cli.invoke(main, ["workflows", "publish", "orders"])
    assert refused.exit_code != 0 and "declares no binding" in refused.output
