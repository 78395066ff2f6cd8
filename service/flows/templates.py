"""Where a flow's mapping template comes from: the active version in the store
(service/store/mappings.py) when there is one, else the file in rules/mappings/.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service.rules.loader import RuleError, Rules
from service.store import mappings as versions_store

if TYPE_CHECKING:
    from service.flows.context import Context


TEMPLATE_DIR = "mappings"


class TemplateError(Exception):
    """The template cannot be found or saved; the message says what to do."""


def rules_name(template: str) -> str:
    return f"{TEMPLATE_DIR}/{template}.yaml"


def template_name(name: str) -> str:
    """``mappings/orders.magento_to_canonical.yaml`` → ``orders.magento_to_canonical``."""
    return Path(name).name.removesuffix(".yaml")


def file_templates(rules: Rules) -> list[str]:
    return sorted(template_name(p.name) for p in rules.path(TEMPLATE_DIR).glob("*.yaml"))


def template_names(runtime: Context) -> list[str]:
    return sorted(set(file_templates(runtime.rules)) | set(versions_store.templates(runtime.store)))


def file_spec(rules: Rules, template: str) -> dict[str, Any] | None:
    try:
        spec = rules.load(rules_name(template))
    except RuleError:
        return None
    return copy.deepcopy(spec) if isinstance(spec, dict) else None


def file_version(rules: Rules, template: str) -> int:
    spec = file_spec(rules, template) or {}
    try:
        return int(spec.get("version", 0))
    except (TypeError, ValueError):
        return 0


def template_spec(runtime: Context, name: str) -> dict[str, Any]:
    """What a flow maps with: the active stored version of ``name`` (a rules path or a template name), else the file.

    The active versions are kept per process (service/store/mapping_cache.py): no store read per record."""
    active = runtime.active_mappings.spec(template_name(name))
    if active is not None:
        return active
    loaded = runtime.rules.load(name if name.endswith(".yaml") else rules_name(name))
    return dict(loaded)


def current_spec(runtime: Context, template: str) -> tuple[dict[str, Any], str]:
    """The spec in force and where it comes from, as the page says it."""
    active = versions_store.active(runtime.store, template)
    if active is not None:
        return active.spec, f"version {active.version} (active)"
    spec = file_spec(runtime.rules, template)
    if spec is None:
        raise TemplateError(f"no mapping template {template!r}: add rules/{rules_name(template)} or pick one "
                            f"of {', '.join(template_names(runtime)) or 'none'}")
    return spec, f"file rules/{rules_name(template)} (version {spec.get('version', '?')})"


def lookup_for(rules: Rules) -> Callable[[str], dict[str, Any]]:
    """The ``lookup: file.yaml#key`` tables of rules/, as the flows resolve them."""

    def lookup(ref: str) -> dict[str, Any]:
        file, _, key = ref.partition("#")
        data = rules.load(file)
        return dict(data.get(key, {}) if key else data)

    return lookup
