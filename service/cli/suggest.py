"""``tillbridge mappings …``: suggest field mappings between two sample files."""

from __future__ import annotations

import json
from pathlib import Path

import click

# The suggestion engine (numpy, scikit-learn) is imported when a command runs, so that every other
# `tillbridge` command starts fast.


@click.group()
def mappings() -> None:
    """Suggest field mappings between two systems' schemas."""


@mappings.command("suggest")
@click.option("--source", "source_file", required=True, type=click.Path(dir_okay=False),
              help="Source samples: CSV (header + rows) or JSON (records, or {\"fields\": [...]}).")
@click.option("--target", "target_file", required=True, type=click.Path(dir_okay=False),
              help="Target samples, in the same formats.")
@click.option("--top", type=click.IntRange(1, 50), default=None,
              help="Alternatives listed per source field (default 3).")
@click.option("--threshold", type=click.FloatRange(0.0, 1.0), default=None,
              help="Confidence from which a pair is proposed (default: the model's).")
@click.option("--output", type=click.Path(dir_okay=False), default=None,
              help="Write the suggestions here (default: print them).")
@click.option("--assignment", "assignment_file", type=click.Path(dir_okay=False), default=None,
              help="Also write the one-to-one assignment alone, with its threshold, to this file.")
@click.option("--model", "model_file", type=click.Path(dir_okay=False), default=None,
              help="Combiner file (default models/mapping/combiner.joblib).")
@click.option("--decisions", "decisions_file", type=click.Path(dir_okay=False), default=None,
              help="Integrators' decisions (JSON lines) to apply: accepted pairs score 1, rejected 0.")
def suggest_command(source_file: str, target_file: str, top: int | None, threshold: float | None, output: str | None,
                    assignment_file: str | None, model_file: str | None, decisions_file: str | None) -> None:
    """Suggest, for every source field, the target fields it most likely maps to.

    Output: {"<source field>": [{"target": …, "score": …}, …], "_assignment": {"<source field>":
    {"target": …, "score": …} or null}} — lists best first; null in _assignment means no match.
    """
    from service.ai.mapping.model import Combiner, ModelError, load_combiner
    from service.ai.mapping.schema import SchemaError, load_schema_file
    from service.ai.mapping.suggester import DEFAULT_TOP, JsonlFeedbackStore, suggest

    try:
        source = load_schema_file(source_file)
        target = load_schema_file(target_file)
        combiner = Combiner.load(model_file) if model_file else load_combiner()
    except (SchemaError, ModelError) as exc:
        raise click.ClickException(str(exc)) from None
    store = JsonlFeedbackStore(decisions_file) if decisions_file else None
    result = suggest(source, target, top=top or DEFAULT_TOP, threshold=threshold, combiner=combiner, decisions=store)
    text = json.dumps(result.to_json(), indent=2)
    if assignment_file:
        Path(assignment_file).write_text(json.dumps(result.assignment_json(), indent=2) + "\n", encoding="utf-8")
    if output is None:
        click.echo(text)
        return
    Path(output).write_text(text + "\n", encoding="utf-8")
    proposed = sum(1 for c in result.assignment.values() if c is not None)
    click.echo(f"{len(source)} source fields, {len(target)} target fields: {proposed} mapped, "
               f"{len(source) - proposed} without a match; wrote {output}")
