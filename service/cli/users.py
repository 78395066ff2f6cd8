"""``tillbridge users …`` and ``tillbridge tokens …``: people and machines that use the web service."""

from __future__ import annotations

import click

from service.store.db import Store
from service.store.users import (
    ROLES,
    UserError,
    create_token,
    create_user,
    list_tokens,
    list_users,
    revoke_token,
    set_disabled,
    set_password,
    set_role,
)

ACTOR = "cli"  # how changes made here show in the record of user changes (on /users)


def _store() -> Store:
    from service.app.factory import create_app

    store: Store = create_app().extensions["tillbridge"].store
    return store


@click.group()
def users() -> None:
    """Users of the web pages, with their roles."""


@users.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES),
              help="integrator (mappings), risk (reviews), operator (monitor, dead letters), admin (all).")
@click.option("--password", default=None,
              help="The password (at least 8 characters). Asked for when left out, which keeps it out of "
                   "the shell history.")
def users_create(username: str, role: str, password: str | None) -> None:
    """Add a user who can sign in to the web pages."""
    if password is None:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        account = create_user(_store(), username, password, role, actor=ACTOR)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"user {account.username} created with role {account.role}")


@users.command("list")
def users_list() -> None:
    """Every user and their role."""
    accounts = list_users(_store())
    if not accounts:
        click.echo("no users: add one with `tillbridge users create NAME --role admin`")
    for account in accounts:
        click.echo(f"{account.username:<32} {account.role:<12} {'' if account.active else 'disabled'}".rstrip())


@users.command("password")
@click.argument("username")
@click.option("--password", default=None, help="The new password. Asked for when left out (keeps it out of the "
                                                "shell history).")
def users_password(username: str, password: str | None) -> None:
    """Set a user's password; their web sessions end at once."""
    if password is None:
        password = click.prompt("new password", hide_input=True, confirmation_prompt=True)
    try:
        ended = set_password(_store(), username, password, actor=ACTOR)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"password of {username} changed; {ended} session(s) ended")


@users.command("role")
@click.argument("username")
@click.argument("role", type=click.Choice(ROLES))
def users_role(username: str, role: str) -> None:
    """Give a user another role (the last active admin keeps theirs)."""
    try:
        set_role(_store(), username, role, actor=ACTOR)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{username} is now {role}")


@users.command("disable")
@click.argument("username")
def users_disable(username: str) -> None:
    """Stop a user: no sign-in, API tokens refused, web sessions ended at once."""
    try:
        ended = set_disabled(_store(), username, True, actor=ACTOR)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{username} disabled; {ended} session(s) ended")


@users.command("enable")
@click.argument("username")
def users_enable(username: str) -> None:
    """Let a disabled user sign in again."""
    try:
        set_disabled(_store(), username, False, actor=ACTOR)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{username} enabled")


@click.group()
def tokens() -> None:
    """API tokens for machine access (sent as `Authorization: Bearer <token>`)."""


@tokens.command("create")
@click.argument("username")
@click.option("--name", required=True, help="What uses the token, e.g. 'monitoring'.")
@click.option("--scope", "scopes", multiple=True,
              help="Limit the /v1 API to this scope (repeat): <resource>:read|write, e.g. orders:read.")
def tokens_create(username: str, name: str, scopes: tuple[str, ...]) -> None:
    """A new API token acting as USERNAME (with that user's role). Shown once: keep it safe."""
    from service.api.v1.access import check_scopes, set_token_scopes

    try:
        check_scopes(scopes)
        info, token = create_token(_store(), username, name)
        if scopes:
            set_token_scopes(_store(), info.id, scopes)
    except (UserError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    limited = f", limited to {', '.join(sorted(scopes))}" if scopes else ""
    click.echo(f"token {info.id} ({info.name}) for {info.username}{limited}; it is shown only this once:", err=True)
    click.echo(token)


@tokens.command("list")
@click.option("--user", "username", default=None, help="Only this user's tokens.")
def tokens_list(username: str | None) -> None:
    """Tokens by id, user and name (the tokens themselves are not kept)."""
    rows = list_tokens(_store(), username)
    if not rows:
        click.echo("no API tokens")
    for t in rows:
        used = t.last_used_at.strftime("%Y-%m-%d %H:%M") if t.last_used_at else "never used"
        click.echo(f"{t.id:>5}  {t.username:<24} {t.name:<24} created {t.created_at:%Y-%m-%d %H:%M}  {used}")


@tokens.command("scope")
@click.argument("token_id", type=int)
@click.argument("scopes", nargs=-1)
def tokens_scope(token_id: int, scopes: tuple[str, ...]) -> None:
    """Limit a token's /v1 API scopes (none given: everything its user's role allows)."""
    from service.api.v1.access import set_token_scopes

    try:
        wanted = set_token_scopes(_store(), token_id, scopes)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"token {token_id}: {', '.join(wanted) if wanted else 'every scope its role allows'}")


@tokens.command("revoke")
@click.argument("token_id", type=int)
def tokens_revoke(token_id: int) -> None:
    """Revoke a token by its id (from `tillbridge tokens list`); it stops working at once."""
    try:
        revoke_token(_store(), token_id)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"token {token_id} revoked")
