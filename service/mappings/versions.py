"""Mapping template versions as files: templates round-trip to rules/mappings/*.yaml
(``export_template`` / ``import_template``, `tillbridge mappings export|import`) so they can be reviewed
in git, and two versions are compared line by line.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from service.rules.templates import Template
from service.store import mappings as versions_store

if TYPE_CHECKING:
    from service.flows.context import Context
from service.flows.templates import TEMPLATE_DIR, TemplateError, rules_name


def _inline(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, allow_unicode=True, width=10_000).strip().removesuffix("...").strip()


def _field_lines(fields: Mapping[str, Any], indent: str) -> list[str]:
    lines = []
    for name, value in fields.items():
        key = _inline(name)
        if isinstance(value, Mapping) and "each" in value:
            lines.append(f"{indent}{key}:")
            for k, v in value.items():
                if k == "fields":
                    lines.append(f"{indent}  fields:")
                    lines.extend(_field_lines(v or {}, indent + "    "))
                else:
                    lines.append(f"{indent}  {k}: {_inline(v)}")
        else:
            lines.append(f"{indent}{key}: {_inline(value)}")
    return lines


def spec_yaml(spec: Mapping[str, Any]) -> str:
    """The template as the files in rules/mappings/ are written: one target field a line, easy to diff."""
    lines = []
    for key, value in spec.items():
        if key == "fields" and isinstance(value, Mapping):
            lines.append("fields:")
            lines.extend(_field_lines(value, "  "))
        else:
            lines.append(f"{_inline(key)}: {_inline(value)}")
    return "\n".join(lines) + "\n"


def _header_comments(path: Path) -> str:
    if not path.exists():
        return ""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines) + "\n" if lines else ""


def export_template(runtime: Context, template: str, version: int | None = None,
                    directory: Path | None = None) -> Path:
    """Write a stored version (default: the active one) to rules/mappings/<template>.yaml, keeping its header comments."""
    if version is not None:
        chosen = versions_store.get(runtime.store, template, version)
    else:
        found = versions_store.active(runtime.store, template)
        if found is None:
            raise TemplateError(f"template {template} has no active version to export: pass --version N "
                                "(see `tillbridge mappings versions`)")
        chosen = found
    folder = directory or runtime.rules.path(TEMPLATE_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{template}.yaml"
    path.write_text(_header_comments(path) + spec_yaml(chosen.spec), encoding="utf-8")
    return path


def import_template(runtime: Context, template: str, *, by: str, activate: bool = False,
                    path: Path | None = None) -> tuple[versions_store.Version, bool]:
    """Store rules/mappings/<template>.yaml as a version (unless the latest says the same); returns (version, saved).

    The file's own version number is kept when it is free, so ``name@N`` means one spec everywhere.
    """
    source = path or runtime.rules.path(rules_name(template))
    try:
        spec = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"cannot read {source}: {exc}") from None
    if not isinstance(spec, dict):
        raise TemplateError(f"{source} is not a mapping template (a YAML object with name, version and fields)")
    Template(spec)  # refuses a spec without fields, with the template's name in the message
    try:
        floor = max(int(spec.get("version", 1)) - 1, 0)
    except (TypeError, ValueError):
        floor = 0
    version, saved = versions_store.save_if_changed(runtime.store, template, spec, created_by=by,
                                                    note=f"imported from {source.name}", floor=floor)
    if activate and not version.active:
        version = versions_store.activate(runtime.store, template, version.version, by=by)
    return version, saved


def diff(template: str, old: versions_store.Version | None, new: versions_store.Version,
         old_spec: Mapping[str, Any] | None = None) -> str:
    """A unified diff of two versions' YAML (``old`` None: the file, given as ``old_spec``)."""
    before = spec_yaml(old.spec if old else old_spec or {}).splitlines()
    after = spec_yaml(new.spec).splitlines()
    old_label = f"{template}@{old.version}" if old else f"rules/{rules_name(template)}"
    return "\n".join(difflib.unified_diff(before, after, old_label, f"{template}@{new.version}", lineterm=""))
