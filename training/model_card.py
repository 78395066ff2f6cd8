"""Model cards: what a trained model is, on which data, how good, written as JSON and Markdown.

Any model family uses the same card shape; the keys below are the ones the Markdown lays out,
in this order, and any other key is rendered after them:

    family, version, created_at, summary, data {source, sha256, rows, window, ...},
    features [{name, description}], threshold {...}, metrics {split: {metric: value}}, training {...}, notes [...]
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

ORDER = ("summary", "data", "features", "threshold", "metrics", "training", "notes")


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    return str(value).replace("|", "\\|")


def _section(title: str, value: Any) -> list[str]:
    lines = [f"## {title.replace('_', ' ').capitalize()}", ""]
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        columns = list(dict.fromkeys(k for row in value for k in row))
        lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(_cell(row.get(c)) for c in columns) + " |" for row in value]
    elif isinstance(value, Mapping) and value and all(isinstance(v, Mapping) for v in value.values()):
        columns = list(dict.fromkeys(k for row in value.values() for k in row))
        lines += ["| | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
        lines += [f"| {name} | " + " | ".join(_cell(row.get(c)) for c in columns) + " |" for name, row in value.items()]
    elif isinstance(value, Mapping):
        lines += [f"- **{k.replace('_', ' ')}**: {_cell(v) if not isinstance(v, Mapping) else json.dumps(v)}"
                  for k, v in value.items()]
    elif isinstance(value, list):
        lines += [f"- {_cell(v)}" for v in value]
    else:
        lines.append(str(value))
    return lines + [""]


def render_markdown(card: Mapping[str, Any]) -> str:
    lines = [f"# Model card: {card.get('family', 'model')} {card.get('version', '')}".rstrip(), ""]
    if card.get("created_at"):
        lines += [f"Trained {card['created_at']}.", ""]
    keys = [k for k in ORDER if k in card] + [k for k in card if k not in ORDER and k not in
                                               ("family", "version", "created_at")]
    for key in keys:
        lines += _section(key, card[key])
    return "\n".join(lines).rstrip() + "\n"


def write_model_card(directory: str | Path, card: Mapping[str, Any]) -> tuple[Path, Path]:
    """Write ``card.json`` and ``card.md`` into ``directory``; returns both paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    plain = _plain(card)
    json_path, md_path = directory / "card.json", directory / "card.md"
    json_path.write_text(json.dumps(plain, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(render_markdown(plain), encoding="utf-8")
    return json_path, md_path
