"""``tillbridge connections …``: Heartland and Magento credentials stored encrypted in the database.

Stored credentials win over the environment's TILLBRIDGE_HEARTLAND_* / TILLBRIDGE_MAGENTO_* settings;
they need TILLBRIDGE_ENCRYPTION_KEY (a Fernet key) in every process's environment.
"""

from __future__ import annotations

import getpass
from typing import Any

import click

from service.store import credentials

ASK = "-"  # a secret option given as "-" is asked for without echo, which keeps it out of the shell history


def _runtime() -> Any:
    from service.app.factory import create_app

    return create_app().extensions["tillbridge"]


def _value(field: str, given: str | None) -> str | None:
    if given == ASK:
        return str(click.prompt(f"{field}", hide_input=True))
    return given


@click.group()
def connections() -> None:
    """Heartland and Magento credentials, stored encrypted (TILLBRIDGE_ENCRYPTION_KEY)."""


@connections.group("set")
def connections_set() -> None:
    """Store the credentials of one system; they replace the environment's from then on."""


def _save(system: str, values: dict[str, str | None]) -> None:
    runtime = _runtime()
    given = {k: v for k, v in values.items() if v is not None}
    if not given:
        raise click.UsageError("give at least one field to store (see --help)")
    try:
        stored = credentials.save(runtime.store, runtime.settings.TILLBRIDGE_ENCRYPTION_KEY, system, given,
                                  actor=f"cli:{getpass.getuser()}")
    except credentials.CredentialsError as exc:
        raise click.ClickException(str(exc)) from None
    runtime.credentials_changed()  # running workers and schedulers pick the new ones up within seconds
    click.echo(f"{system} credentials stored (encrypted): {', '.join(sorted(stored)) or 'none'}")
    click.echo("restart the web, worker and scheduler processes so they use them")


@connections_set.command("heartland")
@click.option("--url", default=None, help="Heartland API base, e.g. https://acme.retail.heartland.us/api")
@click.option("--token", default=None, help=f"API token (Bearer); {ASK!r} asks for it without echo.")
def set_heartland(url: str | None, token: str | None) -> None:
    """Store the Heartland Retail URL and API token."""
    _save("heartland", {"url": url, "token": _value("token", token)})


@connections_set.command("magento")
@click.option("--url", default=None, help="Magento REST base without store code, e.g. https://shop.example/rest")
@click.option("--store-code", default=None, help="Store view code in /rest/<store>/V1/…")
@click.option("--token", default=None, help=f"Bearer token (admin or integration); {ASK!r} asks for it.")
@click.option("--consumer-key", default=None, help="OAuth 1.0a consumer key of a Magento integration.")
@click.option("--consumer-secret", default=None, help=f"OAuth 1.0a consumer secret; {ASK!r} asks for it.")
@click.option("--access-token", default=None, help=f"OAuth 1.0a access token; {ASK!r} asks for it.")
@click.option("--access-token-secret", default=None, help=f"OAuth 1.0a access token secret; {ASK!r} asks for it.")
def set_magento(url: str | None, store_code: str | None, token: str | None, consumer_key: str | None,
                consumer_secret: str | None, access_token: str | None, access_token_secret: str | None) -> None:
    """Store the Magento URL and its token or OAuth 1.0a credentials (all four, used instead of the token)."""
    _save("magento", {
        "url": url, "store_code": store_code, "token": _value("token", token),
        "consumer_key": consumer_key, "consumer_secret": _value("consumer secret", consumer_secret),
        "access_token": _value("access token", access_token),
        "access_token_secret": _value("access token secret", access_token_secret),
    })


@connections.command("show")
def connections_show() -> None:
    """The stored credentials, secrets masked, and which setting each replaces."""
    runtime = _runtime()
    key = runtime.settings.TILLBRIDGE_ENCRYPTION_KEY
    for system in credentials.FIELDS:
        try:
            stored = credentials.load(runtime.store, key, system)
        except credentials.CredentialsError as exc:
            raise click.ClickException(str(exc)) from None
        if not stored:
            click.echo(f"{system}: nothing stored (the environment's settings are used)")
            continue
        click.echo(f"{system}:")
        for field, setting in credentials.FIELDS[system].items():
            if field in stored:
                click.echo(f"  {field:<20} {credentials.mask(field, stored[field])}   (instead of {setting})")


@connections.command("remove")
@click.argument("system", type=click.Choice(sorted(credentials.FIELDS)))
def connections_remove(system: str) -> None:
    """Forget a system's stored credentials; the environment's are used again."""
    runtime = _runtime()
    removed = credentials.remove(runtime.store, system)
    if removed:
        runtime.credentials_changed()
    click.echo(f"{system} credentials removed" if removed else f"no {system} credentials were stored")
