"""``tillbridge alerts …``: check the alert rules now, send a test notice, list what fires (service/operations/alerts.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from service.app.runtime import Runtime


@click.group()
def alerts() -> None:
    """Alert rules (rules/alerts.yaml) and their channels."""


def _runtime() -> Runtime:
    from service.app.factory import create_app

    runtime: Runtime = create_app().extensions["tillbridge"]
    return runtime


@alerts.command("check")
def check() -> None:
    """Evaluate every rule now (as the scheduler does) and send the notices owed."""
    from service.operations import alerts as alerting
    from service.rules.loader import RuleError

    try:
        result = alerting.evaluate(_runtime())
    except RuleError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"fired {len(result.fired)}, resolved {len(result.resolved)}")
    for name, n in result.notified.items():
        click.echo(f"  {name}: notice sent ({n} alert(s))")
    for name, why in result.failed.items():
        click.echo(f"  {name}: {why}")


@alerts.command("test")
def test() -> None:
    """Send a test notice through every configured channel."""
    from service.operations import alerts as alerting
    from service.rules.loader import RuleError

    try:
        outcome = alerting.send_test(_runtime())
    except RuleError as exc:
        raise click.ClickException(str(exc)) from None
    for name, result in outcome.items():
        click.echo(f"{name}: {result}")
    if any(r != "sent" and not r.startswith("not configured") for r in outcome.values()):
        raise SystemExit(1)


@alerts.command("list")
def list_open() -> None:
    """The alerts firing or pending now."""
    from sqlalchemy import select

    from service.operations import alerts as alerting
    from service.store.tables import Alert

    with _runtime().store.session() as s:
        rows = list(s.scalars(select(Alert).where(Alert.state.in_(alerting.OPEN_STATES)).order_by(Alert.started_at)))
    if not rows:
        click.echo("all clear")
    for a in rows:
        click.echo(f"{a.state:<8} {a.severity:<8} {a.fingerprint:<40} {a.summary}")
