"""The /v1 API against its own OpenAPI 3.1 document, in process, with both sandboxes behind it:
schemathesis generates requests for every operation (valid and invalid). Never a server error;
every answer's status, content type, headers and body as documented."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.store.users import create_token, create_user
from tests.conftest import fresh_settings
from tests.stack import Stack, build_stack

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def start_contract_stack(settings: dict[str, Any], workdir: Path) -> Stack:
    return build_stack({**settings, "API_RATE_LIMIT_PER_MINUTE": 100000, "WEBHOOKS_ALLOW_PRIVATE_URLS": False,
                        "POLL_INTERVAL_SECONDS": 0}, workdir)


@pytest.fixture(scope="module")
def shared_stack(db_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One stack for every operation's generated requests: conformance does not depend on what earlier
    requests left behind (more rows only give the list answers more to conform), and building and
    checking a stack per operation cost more than the requests. Empty store and Redis to start."""
    settings = fresh_settings(db_url, redis_url, tmp_path_factory.mktemp("contract"))
    s = start_contract_stack(settings, Path(settings["DATA_DIR"]))
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def shared_admin_token(shared_stack: Stack) -> str:
    create_user(shared_stack.runtime.store, "root", "a-long-password-123", "admin")
    return create_token(shared_stack.runtime.store, "root", "contract")[1]


@pytest.fixture
def contract_stack(settings: dict[str, Any], tmp_path: Path) -> Iterator[Stack]:
    s = start_contract_stack(settings, tmp_path)
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def admin_token(contract_stack: Stack) -> str:
    create_user(contract_stack.runtime.store, "root", "a-long-password-123", "admin")
    return create_token(contract_stack.runtime.store, "root", "contract")[1]


# The committed snapshot: test_v1_conventions.py checks the served document is the same.
schema = schemathesis.openapi.from_path(str(Path(__file__).with_name("openapi.snapshot.json")))


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_v1_conforms_to_its_openapi_document(case: Any, shared_stack: Stack, shared_admin_token: str) -> None:
    case.call_and_validate(app=shared_stack.app, headers={"Authorization": f"Bearer {shared_admin_token}"},
                           checks=CHECKS)


def test_v1_links_hold_statefully(contract_stack: Stack, admin_token: str) -> None:
    """Create, then follow the OpenAPI links to what was created (get, change, delete), as a client would."""
    from hypothesis.stateful import run_state_machine_as_test

    # Generated from the document alone: schemathesis would also draw on literals in the service's source
    # (analysis.constants), and then any code change, even one no request reaches, changes the walks.
    config = SchemathesisConfig.discover()
    config.projects.default.analysis.constants.enabled = False
    machine = schemathesis.openapi.from_wsgi("/v1/openapi.json", contract_stack.app, config=config).as_state_machine()
    auth = {"Authorization": f"Bearer {admin_token}"}

    class Workflow(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": auth}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS)

    # The same walks every run (derandomize), and a failure reported as it happened: shrinking replays
    # steps against sandboxes the first attempt already changed, which hypothesis rightly calls flaky.
    run_state_machine_as_test(Workflow, settings=settings(max_examples=15, stateful_step_count=6, deadline=None,
                                                          derandomize=True, database=None,
                                                          phases=[Phase.explicit, Phase.generate],
                                                          suppress_health_check=list(HealthCheck)))
