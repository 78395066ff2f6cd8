"""``tillbridge flows list|show NAME``: the flows and their declared steps (service/engine/steps.py)."""

from __future__ import annotations

import json
from typing import Any

import click


def _runtime() -> Any:
    from service.app.factory import create_app

    return create_app().extensions["tillbridge"]


@click.group()
def flows() -> None:
    """The flows Tillbridge runs and the steps each is made of."""


@flows.command("list")
def list_flows() -> None:
    """Every enabled flow, its direction and its steps in order."""
    from service.flows import ENABLED_FLOWS

    runtime = _runtime()
    for name in ENABLED_FLOWS:
        flow = runtime.flow(name)
        steps = getattr(flow, "steps", None)
        names = " → ".join(step.name for step in steps) if steps else "(one step: run)"
        click.echo(f"{name:16} {flow.direction:24} {names}")


@flows.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="The steps as JSON, as the workflow builder reads them.")
def show(name: str, as_json: bool) -> None:
    """One flow's steps: what each reads and writes, and which change another system."""
    from service.kernel.errors import SyncError

    try:
        flow = _runtime().flow(name)
    except SyncError as exc:
        raise click.ClickException(f"{exc} ({exc.hint})") from None
    describe = getattr(flow, "describe", None)
    if describe is None:
        raise click.ClickException(f"flow {name!r} is not declared as steps yet")
    steps = describe()
    if as_json:
        click.echo(json.dumps({"flow": name, "direction": flow.direction, "steps": steps}, indent=2))
        return
    click.echo(f"{name}: {flow.direction}")
    route = None
    for n, step in enumerate(steps, start=1):
        if step.get("route", route) != route:  # a flow of several step lists (service/flows/routes.py)
            route = step["route"]
            click.echo(f"route {route}:")
        kind = f"effect in {step['effect']}" if step["effect"] else ("binding" if step["binding"] else "pure")
        click.echo(f"{n:2}. {step['name']:12} {kind:20} {step['title']}")
        if step["reads"] or step["writes"]:
            click.echo(f"    reads {', '.join(step['reads']) or '-'}; writes {', '.join(step['writes']) or '-'}")
        if step["idempotency"]:
            click.echo(f"    once: {step['idempotency']}")
        if step["binding"]:
            click.echo(f"    binds: {step['binding']}")
