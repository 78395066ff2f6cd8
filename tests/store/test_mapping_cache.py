"""The active mapping versions are kept per process, read from the store once, and dropped in every
process when any process changes them (`tillbridge mappings activate` in another process here)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from sqlalchemy import event

from service.flows.templates import template_spec
from service.store import mappings

TEMPLATE = "orders.canonical_to_heartland"
RULES_NAME = f"mappings/{TEMPLATE}.yaml"


def transactions(runtime: Any) -> list[int]:
    """A counter of the transactions the runtime's store begins from now on."""
    begun = [0]

    def count(*_: Any) -> None:
        begun[0] += 1

    event.listen(runtime.store.engine, "begin", count)
    return begun


def cli(settings: dict[str, Any], *args: str) -> str:
    env = {**os.environ, **{k: str(v) for k, v in settings.items()}, "AUTO_MIGRATE": "0"}
    done = subprocess.run([sys.executable, "-m", "service", "mappings", *args], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_version_activated_in_another_process_is_used_at_once(runtime: Any, settings: dict[str, Any]) -> None:
    file_version = template_spec(runtime, RULES_NAME)["version"]
    begun = transactions(runtime)
    for _ in range(5):
        assert template_spec(runtime, RULES_NAME)["version"] == file_version
    assert begun[0] == 0, "the active version was read from the store again instead of kept"

    spec = dict(template_spec(runtime, RULES_NAME))
    spec["fields"] = {**spec["fields"], "custom.magento_store": {"value": "web"}}
    saved = mappings.save(runtime.store, TEMPLATE, spec, created_by="ann", floor=file_version)
    assert template_spec(runtime, RULES_NAME)["version"] == file_version  # saved, not active: the file still

    assert f"{TEMPLATE}@{saved.version} is active" in cli(settings, "activate", TEMPLATE, str(saved.version))
    used = template_spec(runtime, RULES_NAME)
    assert used["version"] == saved.version and used["fields"]["custom.magento_store"] == {"value": "web"}

    begun[0] = 0
    template_spec(runtime, RULES_NAME)
    assert begun[0] == 0  # kept again until the next change

    mappings.deactivate(runtime.store, TEMPLATE)  # in this process: its own commit drops what it kept
    assert template_spec(runtime, RULES_NAME)["version"] == file_version


def test_a_copy_handed_out_cannot_change_what_is_kept(runtime: Any) -> None:
    spec = dict(template_spec(runtime, RULES_NAME))
    saved = mappings.save(runtime.store, TEMPLATE, spec, created_by="ann", floor=int(spec["version"]))
    mappings.activate(runtime.store, TEMPLATE, saved.version, by="ann")
    kept = template_spec(runtime, RULES_NAME)
    assert kept["version"] == saved.version
    kept["fields"].clear()
    assert template_spec(runtime, RULES_NAME)["fields"], "a flow's edit of its copy leaked into the cache"
