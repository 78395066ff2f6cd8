"""Users and API tokens: the store functions and the `tillbridge users|tokens` commands."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from service.app.runtime import Runtime
from service.cli.main import main
from service.store.tables import ApiToken, User
from service.store.user_events import recent
from service.store.users import (
    UserError,
    account_for_token,
    authenticate,
    create_token,
    create_user,
    ensure_user,
    list_users,
)


def test_passwords_are_hashed_and_checked(runtime: Runtime) -> None:
    create_user(runtime.store, "olga", "s3cret-password", "operator")
    with runtime.store.session() as s:
        stored = s.scalar(select(User.password_hash).where(User.username == "olga"))
    assert stored and "s3cret-password" not in stored
    assert authenticate(runtime.store, "olga", "s3cret-password") is not None
    assert authenticate(runtime.store, "olga", "wrong-password") is None
    assert authenticate(runtime.store, "nobody", "s3cret-password") is None


def test_bad_users_are_refused_with_what_to_do(runtime: Runtime) -> None:
    with pytest.raises(UserError, match="unknown role 'boss'"):
        create_user(runtime.store, "olga", "long-enough", "boss")
    with pytest.raises(UserError, match="at least 8 characters"):
        create_user(runtime.store, "olga", "short", "operator")
    create_user(runtime.store, "olga", "long-enough", "operator")
    with pytest.raises(UserError, match="already exists"):
        create_user(runtime.store, "olga", "long-enough", "risk")


def test_ensure_user_creates_once_and_updates(runtime: Runtime) -> None:
    first = ensure_user(runtime.store, "admin", "first-password", "admin")
    again = ensure_user(runtime.store, "admin", "second-password", "admin")
    assert first.id == again.id
    assert len(list_users(runtime.store)) == 1
    assert authenticate(runtime.store, "admin", "second-password") is not None
    assert authenticate(runtime.store, "admin", "first-password") is None


def test_only_the_token_digest_is_stored(runtime: Runtime) -> None:
    create_user(runtime.store, "robot", "long-enough", "operator")
    info, token = create_token(runtime.store, "robot", "monitoring")
    with runtime.store.session() as s:
        row = s.get(ApiToken, info.id)
    assert row is not None
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in row.token_hash
    account = account_for_token(runtime.store, token)
    assert account is not None and account.username == "robot"
    assert account_for_token(runtime.store, token + "x") is None


@pytest.fixture
def cli_env(web_config: dict[str, Any], app: Any, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name in ("DATABASE_URL", "REDIS_URL", "DATA_DIR"):
        monkeypatch.setenv(name, str(web_config[name]))
    return CliRunner()


def test_users_and_tokens_commands(cli_env: CliRunner, runtime: Runtime) -> None:
    created = cli_env.invoke(main, ["users", "create", "olga", "--role", "operator"],
                             input="s3cret-password\ns3cret-password\n")
    assert created.exit_code == 0, created.output
    assert "user olga created with role operator" in created.output
    assert "s3cret-password" not in created.output
    assert authenticate(runtime.store, "olga", "s3cret-password") is not None

    listed = cli_env.invoke(main, ["users", "list"])
    assert "olga" in listed.output and "operator" in listed.output

    refused = cli_env.invoke(main, ["users", "create", "olga", "--role", "risk", "--password", "another-one"])
    assert refused.exit_code != 0 and "already exists" in refused.output

    made = cli_env.invoke(main, ["tokens", "create", "olga", "--name", "monitoring"])
    assert made.exit_code == 0, made.output
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("tb_")
    assert account_for_token(runtime.store, token) is not None

    tokens = cli_env.invoke(main, ["tokens", "list"])
    assert "monitoring" in tokens.output and token not in tokens.output
    token_id = tokens.output.split()[0]
    revoked = cli_env.invoke(main, ["tokens", "revoke", token_id])
    assert revoked.exit_code == 0, revoked.output
    assert account_for_token(runtime.store, token) is None
    missing = cli_env.invoke(main, ["tokens", "revoke", token_id])
    assert missing.exit_code != 0 and "no API token with id" in missing.output


def test_users_password_role_disable_enable_commands(cli_env: CliRunner, runtime: Runtime) -> None:
    create_user(runtime.store, "ada", "ada-password", "admin")
    create_user(runtime.store, "olga", "s3cret-password", "operator")

    changed = cli_env.invoke(main, ["users", "password", "olga"], input="new-password-1\nnew-password-1\n")
    assert changed.exit_code == 0, changed.output
    assert "password of olga changed; 0 session(s) ended" in changed.output
    assert "new-password-1" not in changed.output
    assert authenticate(runtime.store, "olga", "new-password-1") is not None

    assert cli_env.invoke(main, ["users", "role", "olga", "risk"]).exit_code == 0
    assert cli_env.invoke(main, ["users", "disable", "olga"]).exit_code == 0
    listed = cli_env.invoke(main, ["users", "list"]).output
    assert any(line.split() == ["olga", "risk", "disabled"] for line in listed.splitlines())
    assert cli_env.invoke(main, ["users", "enable", "olga"]).exit_code == 0

    last = cli_env.invoke(main, ["users", "disable", "ada"])
    assert last.exit_code != 0 and "ada is the last active admin" in last.output
    assert [(e.actor, e.action, e.username) for e in recent(runtime.store)[:4]] == [
        ("cli", "enabled", "olga"), ("cli", "disabled", "olga"), ("cli", "role changed", "olga"),
        ("cli", "password changed", "olga")]
