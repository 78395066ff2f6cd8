"""``tillbridge heartland webhooks register|list|remove``: Heartland's deliveries to Tillbridge.

The registered URL carries the secret token (Heartland signs nothing), so it is printed masked.
"""

from __future__ import annotations

from typing import Any

import click


def _runtime() -> Any:
    from service.app.factory import create_app

    return create_app().extensions["tillbridge"]


def _token(runtime: Any) -> str:
    token = runtime.settings.TILLBRIDGE_HEARTLAND_WEBHOOK_TOKEN
    if not token:
        raise click.ClickException("TILLBRIDGE_HEARTLAND_WEBHOOK_TOKEN is empty; set a long random token first")
    return token


@click.group()
def heartland() -> None:
    """Heartland Retail: the webhooks it sends to Tillbridge."""


@heartland.group()
def webhooks() -> None:
    """Register, list and remove Heartland webhooks."""


@webhooks.command("register")
@click.option("--url", "base_url", default=None,
              help="Tillbridge's public base URL as Heartland reaches it (default TILLBRIDGE_PUBLIC_URL).")
def register(base_url: str | None) -> None:
    """Subscribe Tillbridge's URL to item, customer and sales transaction events (once)."""
    runtime = _runtime()
    from service.api import heartland_hooks as hooks  # the web layer: loaded when a command runs

    base = base_url or runtime.settings.TILLBRIDGE_PUBLIC_URL
    if not base:
        raise click.ClickException("no URL: pass --url https://tillbridge.example.com or set TILLBRIDGE_PUBLIC_URL")
    url = hooks.hook_url(base, _token(runtime))
    client = runtime.heartland
    for webhook in client.webhooks():
        if webhook.get("url") == url and set(hooks.EVENTS) <= set(webhook.get("events") or []):
            click.echo(f"already registered: webhook {webhook['id']} → {hooks.masked(url)}")
            return
    created = client.register_webhook(url, hooks.EVENTS)
    click.echo(f"registered webhook {created.get('id')} → {hooks.masked(url)} for {', '.join(hooks.EVENTS)}")


@webhooks.command("list")
def list_webhooks() -> None:
    """Every webhook Heartland has; ours are marked with *."""
    runtime = _runtime()
    from service.api import heartland_hooks as hooks  # the web layer: loaded when a command runs

    token = _token(runtime)
    rows = runtime.heartland.webhooks()
    if not rows:
        click.echo("no webhooks registered in Heartland")
        return
    for webhook in rows:
        url = str(webhook.get("url") or "")
        mark = "*" if hooks.is_ours(url, token) else " "
        click.echo(f"{mark} {webhook.get('id')}\t{hooks.masked(url)}\t{', '.join(webhook.get('events') or [])}")


@webhooks.command("remove")
@click.argument("webhook_id", required=False, type=int)
@click.option("--all-ours", is_flag=True, help="Remove every webhook that posts to this Tillbridge's token.")
def remove(webhook_id: int | None, all_ours: bool) -> None:
    """Remove webhook ID, or all of ours."""
    if (webhook_id is None) == (not all_ours):
        raise click.UsageError("give either a webhook ID or --all-ours")
    runtime = _runtime()
    from service.api import heartland_hooks as hooks  # the web layer: loaded when a command runs

    client = runtime.heartland
    if webhook_id is not None:
        client.delete_webhook(webhook_id)
        click.echo(f"removed webhook {webhook_id}")
        return
    token = _token(runtime)
    ours = [w for w in client.webhooks() if hooks.is_ours(str(w.get("url") or ""), token)]
    for webhook in ours:
        client.delete_webhook(int(webhook["id"]))
    click.echo(f"removed {len(ours)} webhook(s)")
