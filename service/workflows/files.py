"""Workflows as files: ``rules/workflows/<name>.yaml``, for review in git and for moving a workflow
between installations. Export writes a version's document; import reads one and saves it as the draft."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

HEADER = ("# Tillbridge workflow {name}, version {version} ({state}).\n"
          "# Import with `tillbridge workflows import {path}`; it becomes the draft, published by\n"
          "# `tillbridge workflows publish {name}` once tested (`tillbridge workflows test {name}`).\n")


def path_for(rules_dir: str | Path, name: str) -> Path:
    return Path(rules_dir) / "workflows" / f"{name}.yaml"


def dump(document: dict[str, Any], *, version: int, state: str, path: Path) -> str:
    head = HEADER.format(name=document.get("workflow"), version=version, state=state, path=path)
    return head + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=110)


def write(document: dict[str, Any], *, version: int, state: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump(document, version=version, state=state, path=path), encoding="utf-8")
    return path


def read(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path} is not valid YAML: {exc}") from None
    except OSError as exc:
        raise ValueError(f"{path} cannot be read: {exc}") from None
