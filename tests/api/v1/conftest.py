"""Fixtures for the /v1 API: the real app, and API tokens per role (optionally narrowed by scopes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from service.api.v1.access import set_token_scopes
from service.store.users import create_token, create_user


@pytest.fixture
def make_token(runtime: Any) -> Callable[..., dict[str, str]]:
    """``make_token("integrator", scopes=["orders:read"])`` → the Authorization header of a new token."""
    made: dict[str, int] = {}

    def make(role: str = "integrator", scopes: list[str] | None = None) -> dict[str, str]:
        made[role] = made.get(role, 0) + 1
        username = f"{role}{made[role]}"
        create_user(runtime.store, username, "a-long-password-123", role)
        info, token = create_token(runtime.store, username, "tests")
        if scopes is not None:
            set_token_scopes(runtime.store, info.id, scopes)
        return {"Authorization": f"Bearer {token}"}

    return make
