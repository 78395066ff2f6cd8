"""``tillbridge sandbox heartland``: run the Heartland Retail sandbox in the foreground."""

from __future__ import annotations

import click


@click.command()
@click.option("--port", type=int, required=True, help="Port to listen on (the demo uses 9001).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--token", default="heartland-dev-token", show_default=True, help="The Bearer token it accepts.")
@click.option("--seed", default="demo", show_default=True,
              help="Seed for the data set; the Magento sandbox with the same seed holds the same catalog. "
                   "'none' starts an empty account.")
@click.option("--rate-limit", type=float, default=0.0, show_default=True,
              help="Requests per second before it answers 429 with Retry-After (0: no throttle).")
@click.option("--auto-complete-invoices", is_flag=True, help="Complete invoices on create, as some accounts do.")
@click.option("--history-weeks", type=click.IntRange(min=0), default=26, show_default=True,
              help="Weeks of daily sales history per item and location to seed, read through "
                   "/api/reporting/analyzer (0: none).")
def heartland(port: int, host: str, token: str, seed: str, rate_limit: float, auto_complete_invoices: bool,
              history_weeks: int) -> None:
    """Run the Heartland Retail sandbox (base URL http://HOST:PORT/api)."""
    from service.sandbox.heartland.app import create_app
    from service.sandbox.server import serve_forever

    app = create_app(None if seed.lower() == "none" else seed, token=token, rate_limit_per_second=rate_limit,
                     auto_complete_invoices=auto_complete_invoices,
                     history_weeks=history_weeks if seed.lower() != "none" else 0)
    click.echo(f"Heartland sandbox on http://{host}:{port}/api (Bearer {token[:4]}…, seed {seed}); Ctrl-C stops it")
    serve_forever(app, host, port)
