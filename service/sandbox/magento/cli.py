"""``tillbridge sandbox magento``: run the Magento 2 sandbox in the foreground."""

from __future__ import annotations

import os

import click


@click.command()
@click.option("--port", type=int, required=True, help="Port to listen on (the demo uses 9002).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--token", default="magento-dev-token", show_default=True,
              help="The integration access token (Bearer, and the OAuth 1.0a access token).")
@click.option("--seed", default="demo", show_default=True, help="Seed of the generated catalog, customers and orders.")
@click.option("--events-url", default=None, help="Where to post signed events, e.g. http://127.0.0.1:8000/webhooks/magento.")
@click.option("--integration-as-bearer/--no-integration-as-bearer", default=True, show_default=True,
              help="Accept the integration token as a Bearer token (Magento 2.4.4+ refuses it by default).")
@click.option("--backorders/--no-backorders", default=True, show_default=True,
              help="Let checkouts go beyond the salable quantity (no: refuse them as Magento does by default).")
@click.option("--unknown-property-status", type=click.Choice(["400", "500"]), default="400", show_default=True,
              help="Answer unknown body properties with 400 (strict) or 500 (as production Magento).")
def magento(port: int, host: str, token: str, seed: str, events_url: str | None, integration_as_bearer: bool,
            backorders: bool, unknown_property_status: str) -> None:
    """Run the Magento 2 sandbox (REST under /rest/V1 and /rest/<store>/V1).

    Events are signed with TILLBRIDGE_WEBHOOK_SECRET (Standard Webhooks headers, as the module sends them). OAuth 1.0a credentials: consumer key
    tillbridge-consumer-key, consumer secret tillbridge-consumer-secret, access token = --token,
    access token secret tillbridge-access-token-secret. Admin user admin / admin123.
    """
    from service.sandbox.magento.app import create_app
    from service.sandbox.magento.sandbox import DEFAULT_WEBHOOK_SECRET
    from service.sandbox.server import serve_forever

    secret = os.environ.get("TILLBRIDGE_WEBHOOK_SECRET", DEFAULT_WEBHOOK_SECRET)
    app = create_app(seed=seed, token=token, events_url=events_url, webhook_secret=secret,
                     enable_integration_as_bearer=integration_as_bearer, backorders=int(backorders),
                     unknown_property_status=int(unknown_property_status))
    click.echo(f"Magento sandbox on http://{host}:{port}/rest/V1 (seed {seed!r}"
               f"{', events to ' + events_url if events_url else ''})", err=True)
    serve_forever(app, host, port)
