"""Commands of the anomaly model family, and the registry commands shared by every family."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


def _models_dir(value: str | None) -> Path:
    """A directory given on the command line is relative to the working directory; the default
    (MODELS_DIR) to the checkout, like the service reads it."""
    from service.settings import load_settings, repo_path

    return Path(value).resolve() if value else repo_path(str(load_settings().MODELS_DIR))


def _rules_dir(value: str | None) -> str:
    from service.settings import load_settings, repo_path

    return str(Path(value).resolve()) if value else str(repo_path(str(load_settings().RULES_DIR)))


def _split(features: str | None) -> list[str] | None:
    return [f.strip() for f in features.split(",") if f.strip()] if features else None


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


models_dir_option = click.option("--models-dir", default=None, help="Models directory (default MODELS_DIR).")


@click.command("anomaly")
@click.option("--data", "data_path", required=True, type=click.Path(dir_okay=False),
              help="Order history (.json) or a feature table (.csv, .parquet).")
@click.option("--features", default=None, help="Comma-separated feature columns (default: all numeric columns).")
@click.option("--label-column", default=None, help="Review decisions: fraud/1, legitimate/0, empty = unreviewed.")
@click.option("--truth-column", default=None, help="Full ground truth used only to evaluate (e.g. is_fraud).")
@click.option("--time-column", default=None, help="Row time for the time split (default created_at if present).")
@click.option("--out", "out_dir", default=None, help="Models directory to write into (default MODELS_DIR).")
@click.option("--rules-dir", default=None, help="Rules directory with anomaly.yaml (default RULES_DIR).")
@click.option("--promote", is_flag=True, help="Promote the new version at once.")
def train_anomaly_command(data_path: str, features: str | None, label_column: str | None, truth_column: str | None,
                          time_column: str | None, out_dir: str | None, rules_dir: str | None, promote: bool) -> None:
    """Train an anomaly model, write its artifact and model card, and register it."""
    from service.ai.anomaly.scorer import AnomalyRules
    from service.ai.registry import Registry, RegistryError
    from service.rules.loader import RuleError
    from training.anomaly import compare_with_promoted, save_anomaly, train_anomaly
    from training.data import DataError, load_dataset

    root = _models_dir(out_dir)
    try:
        rules = AnomalyRules.load(_rules_dir(rules_dir))
        dataset = load_dataset(data_path, features=_split(features), label_column=label_column,
                               truth_column=truth_column, time_column=time_column)
        result = train_anomaly(dataset, rules)
        comparison = compare_with_promoted(result, Registry(root))
        version = save_anomaly(result, root, promote=promote)
    except (DataError, RuleError, RegistryError, ValueError) as exc:
        raise _fail(exc) from None
    click.echo(result.card["summary"])
    for split, metrics in result.card["metrics"].items():
        shown = ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items())
        click.echo(f"  {split}: {shown}")
    if dataset.labels is None and dataset.truth is None:
        click.echo("  no labels to evaluate against: pass --label-column (review decisions) or --truth-column")
    if comparison and comparison.get("comparable"):
        before = comparison["promoted_metrics"].get("precision_at_budget")
        click.echo(f"  promoted {comparison['promoted']} on the same held-out rows: precision at budget {before}")
    click.echo(f"wrote {root / version.artifact}")
    click.echo(f"promoted {version.version}" if promote else
               f"not promoted; to use it: tillbridge models promote anomaly {version.version}")


@click.command("anomaly")
@click.option("--model", "model_path", default=None,
              help="Artifact (model.joblib), version directory or models directory (default: the promoted model).")
@click.option("--data", "data_path", required=True, type=click.Path(dir_okay=False),
              help="Order history (.json) or a feature table (.csv, .parquet) with the model's feature columns.")
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="CSV to write: row, score, flagged.")
@click.option("--rules-dir", default=None, help="Rules directory with anomaly.yaml (default RULES_DIR).")
def score_anomaly_command(model_path: str | None, data_path: str, output: str, rules_dir: str | None) -> None:
    """Score every row of a data file; one score per row, in input order, higher = more anomalous."""
    import numpy as np
    import pandas as pd

    from service.ai.anomaly.scorer import AnomalyScorer
    from service.ai.registry import RegistryError
    from service.rules.loader import RuleError
    from training.data import DataError, load_dataset

    target = Path(model_path).resolve() if model_path else _models_dir(None)
    if target.is_dir() and (target / "model.joblib").is_file():
        target = target / "model.joblib"
    try:
        scorer = AnomalyScorer.load(target, rules_dir=_rules_dir(rules_dir))
        model = scorer.model
        budget = scorer.budget
        dataset = load_dataset(data_path, features=model.feature_names)
        scores = scorer.score_rows(dataset.X)
    except (DataError, RuleError, RegistryError, ValueError, FileNotFoundError) as exc:
        raise _fail(exc) from None
    threshold = scorer.threshold
    pd.DataFrame({"row": np.arange(len(scores)), "score": scores, "flagged": (scores >= threshold).astype(int)}) \
        .to_csv(output, index=False, float_format="%.12g")
    flagged = int((scores >= threshold).sum())
    click.echo(f"scored {len(scores)} rows with {model.version}; {flagged} above the threshold {threshold:.6g} "
               f"(review budget {budget:.2%}); wrote {output}")


@click.command("list")
@click.option("--family", default=None, help="Only this model family.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@models_dir_option
def list_command(family: str | None, as_json: bool, models_dir: str | None) -> None:
    """List registered model versions; the promoted one of each family is marked with *."""
    from service.ai.registry import Registry, RegistryError

    try:
        versions = Registry(_models_dir(models_dir)).versions(family)
    except RegistryError as exc:
        raise _fail(exc) from None
    if as_json:
        click.echo(json.dumps([{"family": v.family, "version": v.version, "promoted": v.promoted,
                                "artifact": v.artifact, "card": v.card, "created_at": v.created_at,
                                "metrics": v.metrics}
                               for v in versions], indent=2))
        return
    if not versions:
        click.echo("no models registered")
    for v in versions:
        headline = _headline(v.metrics)
        click.echo(f"{'*' if v.promoted else ' '} {v.family:<10} {v.version:<45} {v.created_at}  {headline}")


def _headline(metrics: dict[str, Any]) -> str:
    for values in reversed(list(metrics.values())):
        if isinstance(values, dict) and values.get("precision_at_budget") is not None:
            return f"precision@budget {values['precision_at_budget']:.3f}"
    return ""


@click.command("promote")
@click.argument("family")
@click.argument("version")
@models_dir_option
def promote_command(family: str, version: str, models_dir: str | None) -> None:
    """Make VERSION the model the service uses for FAMILY (running services pick it up without a restart)."""
    from service.ai.registry import Registry, RegistryError

    try:
        promoted = Registry(_models_dir(models_dir)).promote(family, version)
    except RegistryError as exc:
        raise _fail(exc) from None
    click.echo(f"promoted {promoted.family} {promoted.version}")


@click.command("rollback")
@click.argument("family")
@models_dir_option
def rollback_command(family: str, models_dir: str | None) -> None:
    """Go back to the FAMILY model that was promoted before the current one."""
    from service.ai.registry import Registry, RegistryError

    try:
        restored = Registry(_models_dir(models_dir)).rollback(family)
    except RegistryError as exc:
        raise _fail(exc) from None
    click.echo(f"rolled back {restored.family} to {restored.version}")


@click.command("synthetic-orders")
@click.option("--orders", "n_orders", type=int, default=20_000, show_default=True, help="How many orders.")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--fraud-rate", type=float, default=0.015, show_default=True)
@click.option("--reviews/--no-reviews", default=True, show_default=True,
              help="Add review_label: decisions on the orders an Isolation Forest flags (2%), plus chargebacks.")
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="Order history .json or feature .csv.")
def synthetic_orders_command(n_orders: int, seed: int, fraud_rate: float, reviews: bool, output: str) -> None:
    """Write a seeded synthetic order history with labelled fraud (is_fraud, fraud_pattern, review_label)."""
    from training.synthetic import synthetic_dataset

    history, dataset, labels = synthetic_dataset(n_orders, seed=seed, fraud_rate=fraud_rate, reviews=reviews)
    if output.lower().endswith(".csv"):
        from training.data import write_csv

        extra: dict[str, list[Any]] = {"is_fraud": history.is_fraud, "fraud_pattern": history.patterns}
        if labels is not None:
            extra["review_label"] = labels
        write_csv(output, dataset, extra=extra)
    else:
        history.write_json(output, review_labels=labels)
    click.echo(f"wrote {len(history.orders)} orders ({sum(history.is_fraud)} fraudulent) to {output}")


def register(models: click.Group, train: click.Group, score: click.Group) -> None:
    """Attach this family's commands, and the registry commands every family shares, to ``tillbridge models``."""
    train.add_command(train_anomaly_command)
    score.add_command(score_anomaly_command)
    from training.anomaly_store import export_anomaly_command

    for command in (list_command, promote_command, rollback_command, synthetic_orders_command,
                    export_anomaly_command):
        models.add_command(command)
