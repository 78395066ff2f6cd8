"""The ``tillbridge`` command."""

from __future__ import annotations

import getpass
import json
import sys
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from flask import Flask


class _Commands(click.Group):
    """Every command: a setting the environment gets wrong ends it with one line naming the setting
    (``Error: setting MAX_ATTEMPTS must be a whole number, got 'three'``), not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from service.settings import SettingsError

        try:
            return super().invoke(ctx)
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Commands)
def main() -> None:
    """Tillbridge keeps a Heartland Retail store and a Magento 2 shop in step."""


def _app(**overrides: Any) -> Flask:
    from service.app.factory import create_app

    return create_app(overrides or None)


def _dump_stacks_on_sigusr2() -> None:
    """`kill -USR2 <pid>` writes every thread's stack to stderr: what a stuck process is doing."""
    import contextlib
    import faulthandler
    import io
    import signal

    # When stderr is not a file (the command runs inside another program) there is nothing to dump to.
    with contextlib.suppress(io.UnsupportedOperation, ValueError):
        faulthandler.register(signal.SIGUSR2, all_threads=True)


def _require_safe_secrets() -> None:
    """Refuse to run a real process on missing, short or published secrets (the demo and the tests
    hand their processes random ones)."""
    from service.settings import load_settings
    from service.settings.secrets import InsecureSecrets, require

    try:
        require(load_settings())
    except InsecureSecrets as exc:
        raise click.ClickException(str(exc)) from None


def _app_when_reachable() -> Flask:
    """The app, waiting up to STARTUP_WAIT_SECONDS while the database or Redis does not answer yet (a
    process started with, or during a restart of, either of them); then the error as it is."""
    import time

    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from sqlalchemy.exc import OperationalError

    from service.app.backing import check_answering, open_redis, open_store
    from service.settings import load_settings

    settings = load_settings()
    deadline = time.monotonic() + settings.STARTUP_WAIT_SECONDS
    said = 0.0
    while True:
        store = open_store(settings)
        try:
            check_answering(open_redis(settings), store)
            return _app()  # which applies the migrations (AUTO_MIGRATE): a database that answers is needed
        except (OperationalError, RedisConnectionError, RedisTimeoutError) as exc:
            now = time.monotonic()
            if now >= deadline:
                raise
            if now - said >= 5:
                said = now
                reason = str(exc).strip().splitlines()[0]
                click.echo(f"waiting for the database and Redis to answer: {reason}", err=True)
            time.sleep(min(1.0, max(0.0, deadline - now)))
        finally:
            store.dispose()


def _checked_app() -> Flask:
    """The app, once its secrets pass, its database and Redis answer, and any stored credentials decrypt
    with TILLBRIDGE_ENCRYPTION_KEY."""
    from service.store.credentials import CredentialsError

    _require_safe_secrets()
    app = _app_when_reachable()
    runtime = app.extensions["tillbridge"]
    try:
        for system in ("heartland", "magento"):
            runtime.connection_settings(system)
    except CredentialsError as exc:
        raise click.ClickException(str(exc)) from None
    refusals, warnings = runtime.redis_problems()
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    if refusals:
        raise click.ClickException("; ".join(refusals))
    return app


@main.command()
@click.option("--host", default=None, help="Address to listen on (default WEB_HOST).")
@click.option("--port", type=int, default=None, help="Port to listen on (default WEB_PORT).")
@click.option("--workers", type=int, default=None, help="gunicorn worker processes (default WEB_WORKERS).")
def web(host: str | None, port: int | None, workers: int | None) -> None:
    """Run the web service (ingest, API and pages) under gunicorn."""
    from service.app.webserver import run_gunicorn
    from service.settings import load_settings

    settings = load_settings()
    _checked_app()  # checks secrets and Redis, applies the migrations once (AUTO_MIGRATE) before gunicorn starts its workers
    run_gunicorn(
        host or settings.WEB_HOST,
        port or settings.WEB_PORT,
        workers or settings.WEB_WORKERS,
    )


@main.command()
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@click.option("--fork", is_flag=True, help="Fork a process per job (isolation over speed).")
@click.option("--name", default=None, help="Worker name shown in RQ.")
def worker(burst: bool, fork: bool, name: str | None) -> None:
    """Run an RQ worker that syncs items."""
    from service.engine.worker import run_worker

    app = _checked_app()
    _dump_stacks_on_sigusr2()
    _load_models(app.extensions["tillbridge"])
    run_worker(app, fork=fork, name=name, burst=burst)


def _load_models(runtime: Any) -> None:
    """Load the promoted models before the first job, so no order waits seconds for a model to load."""
    from service.flows.checks import duplicates, fraud
    for name, load in (("anomaly", lambda: fraud.scorer_for(runtime)),
                       ("dedup", lambda: duplicates.for_runtime(runtime).model_version)):
        try:
            load()
        except Exception as exc:  # noqa: BLE001 - the flows report a missing model per item, with a hint
            click.echo(f"note: no {name} model loaded yet ({exc})", err=True)


@main.command()
@click.option("--once", is_flag=True, help="Sweep once and exit.")
def scheduler(once: bool) -> None:
    """Run the scheduler: due retries, lost enqueues and stuck items back to the queue."""
    from service.app.scheduler import run_forever, sweep
    from service.engine import shutdown

    runtime = _checked_app().extensions["tillbridge"]
    if once:
        result = sweep(runtime)
        click.echo(f"reclaimed {result.reclaimed}, enqueued {result.enqueued}, polled {result.polled}")
        return
    shutdown.install(runtime.settings.WORKER_STOP_GRACE_SECONDS)
    _dump_stacks_on_sigusr2()
    click.echo(f"scheduler running: a sweep every {runtime.settings.SCHEDULER_TICK_SECONDS} s; "
               "SIGTERM or Ctrl-C stops it", err=True)
    run_forever(runtime, runtime.settings.SCHEDULER_TICK_SECONDS)


@main.command()
def health() -> None:
    """Exit 0 when Redis and the database answer (the container health check). It loads no more than
    it asks with: a check every 30 s in each container costs milliseconds, not a second of imports."""
    from service.app.backing import check_answering, open_redis, open_store, redis_problems
    from service.settings import load_settings

    settings = load_settings()
    store = open_store(settings)
    try:
        redis = open_redis(settings)
        check_answering(redis, store)
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
        raise click.ClickException(f"unhealthy: {exc}") from None
    finally:
        store.dispose()
    refusals, _ = redis_problems(redis)
    for warning in refusals:
        click.echo(f"warning: {warning}", err=True)
    click.echo("ok")


@main.command()
@click.option("--dry-run", is_flag=True, help="Count what is past retention; delete nothing.")
@click.option("--days", type=float, default=None, help="Retention in days (default RETENTION_DAYS).")
def purge(dry_run: bool, days: float | None) -> None:
    """Forget finished items past retention, with their trace steps and inbox events; dead letters
    and reviews only once resolved. The scheduler does this by itself every RETENTION_INTERVAL_SECONDS."""
    from service.store import retention

    runtime = _app().extensions["tillbridge"]
    settings = runtime.settings
    days = settings.RETENTION_DAYS if days is None else days
    if days <= 0:
        raise click.ClickException("retention is 0 days (keep everything): nothing to purge")
    try:
        result = retention.purge(runtime.store, retention_days=days, batch_size=settings.RETENTION_BATCH_SIZE,
                                 budget_seconds=float("inf"), dry_run=dry_run)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{'would purge' if dry_run else 'purged'} what finished before {result.cutoff:%Y-%m-%d %H:%M} UTC:")
    for line in result.lines():
        click.echo(f"  {line}")


@main.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the migrations (SQLite file by default, PostgreSQL with DATABASE_URL)."""
    app = _app(AUTO_MIGRATE=False)
    store = app.extensions["tillbridge"].store
    store.upgrade(revision)
    click.echo(f"database at {store.engine.url.render_as_string(hide_password=True)} is at {revision}")


@main.command()
@click.option("--orders", type=int, default=None, help="Sample orders to place (default DEMO_ORDERS).")
@click.option("--web-port", type=int, default=None)
@click.option("--heartland-port", type=int, default=None)
@click.option("--magento-port", type=int, default=None)
@click.option("--exit-when-synced", is_flag=True, help="Stop once the sample orders are synced (for checks).")
def demo(orders: int | None, web_port: int | None, heartland_port: int | None, magento_port: int | None,
         exit_when_synced: bool) -> None:
    """Run everything on one machine: sandboxes, web, worker, scheduler, and sample orders."""
    from service.app.demo import Demo

    code = Demo(orders=orders, web_port=web_port, heartland_port=heartland_port, magento_port=magento_port,
                exit_when_synced=exit_when_synced).run()
    sys.exit(code)


@main.group("dead-letters")
def dead_letters() -> None:
    """List, show, retry and resolve dead letters."""


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


@dead_letters.command("list")
@click.option("--flow", default=None)
@click.option("--class", "failure_class", default=None, help="retryable, auth, data, fatal, …")
@click.option("--all", "show_all", is_flag=True, help="Include retried and resolved ones.")
@click.option("--json", "as_json", is_flag=True)
def dead_letters_list(flow: str | None, failure_class: str | None, show_all: bool, as_json: bool) -> None:
    from service.engine.deadletters import DeadLetterFilter, query

    store = _app().extensions["tillbridge"].store
    rows = query(store, DeadLetterFilter(flow=flow, failure_class=failure_class, open_only=not show_all))
    if as_json:
        click.echo(json.dumps([_letter_dict(r) for r in rows], indent=2, default=str))
        return
    if not rows:
        click.echo("no dead letters")
    for r in rows:
        state = r.resolution or "open"
        click.echo(f"{r.id:>6}  item {r.item_id:<6} {r.flow:<10} {r.failure_class:<12} {state:<8} {r.error[:90]}")


@dead_letters.command("show")
@click.argument("dead_letter_id", type=int)
def dead_letters_show(dead_letter_id: int) -> None:
    from service.engine.deadletters import get

    letter = get(_app().extensions["tillbridge"].store, dead_letter_id)
    if letter is None:
        raise click.ClickException(f"dead letter {dead_letter_id} does not exist")
    click.echo(json.dumps(_letter_dict(letter), indent=2, default=str))


@dead_letters.command("retry")
@click.argument("dead_letter_id", type=int, required=False)
@click.option("--payload", "payload_file", type=click.File("r"), default=None,
              help="Retry with this edited payload (JSON file) instead of the original.")
@click.option("--flow", default=None, help="With --all-matching: only this flow.")
@click.option("--class", "failure_class", default=None, help="With --all-matching: only this failure class.")
@click.option("--all-matching", is_flag=True, help="Retry every open dead letter matching the filters.")
def dead_letters_retry(dead_letter_id: int | None, payload_file: Any, flow: str | None,
                       failure_class: str | None, all_matching: bool) -> None:
    from service.engine.deadletters import DeadLetterError, DeadLetterFilter, retry, retry_matching

    runtime = _app().extensions["tillbridge"]
    try:
        if all_matching:
            ids = retry_matching(runtime.store, DeadLetterFilter(flow=flow, failure_class=failure_class),
                                 actor=_actor())
        elif dead_letter_id is not None:
            payload = None
            if payload_file is not None:
                try:
                    payload = json.load(payload_file)
                except ValueError as exc:
                    raise click.ClickException(f"--payload is not valid JSON: {exc}") from None
            ids = [retry(runtime.store, dead_letter_id, actor=_actor(), payload=payload)]
        else:
            raise click.UsageError("give a dead letter id, or --all-matching with filters")
    except DeadLetterError as exc:
        raise click.ClickException(str(exc)) from None
    runtime.enqueue(ids)
    click.echo(f"retried {len(ids)} item(s): {', '.join(map(str, ids)) or '-'}")


@dead_letters.command("resolve")
@click.argument("dead_letter_id", type=int)
@click.option("--note", required=True, help="How it was resolved.")
def dead_letters_resolve(dead_letter_id: int, note: str) -> None:
    from service.engine.deadletters import DeadLetterError, resolve

    try:
        resolve(_app().extensions["tillbridge"].store, dead_letter_id, actor=_actor(), note=note)
    except DeadLetterError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"dead letter {dead_letter_id} resolved")


def _letter_dict(letter: Any) -> dict[str, Any]:
    return {
        "id": letter.id,
        "item_id": letter.item_id,
        "flow": letter.flow,
        "class": letter.failure_class,
        "error": letter.error,
        "attempts": letter.attempts,
        "created_at": letter.created_at,
        "resolution": letter.resolution or "open",
        "resolved_by": letter.resolved_by,
        "note": letter.note,
        "payload": letter.payload,
    }


def _register_commands() -> None:
    # Each area owns its command group; they are attached here, in one place.
    from service.cli.alerts import alerts
    from service.cli.backfill import backfill
    from service.cli.connections import connections
    from service.cli.dedup import customers
    from service.cli.drift import drift
    from service.cli.flows import flows
    from service.cli.forecasts import forecasts
    from service.cli.heartland import heartland
    from service.cli.mappings import COMMANDS as MAPPING_VERSION_COMMANDS
    from service.cli.suggest import mappings
    from service.cli.users import tokens, users
    from service.cli.workflows import workflows
    from service.sandbox.cli import sandbox
    from training.cli import models

    main.add_command(sandbox)
    main.add_command(heartland)
    main.add_command(backfill)
    main.add_command(drift)
    main.add_command(flows)
    main.add_command(workflows)
    main.add_command(forecasts)
    main.add_command(alerts)
    main.add_command(customers)
    main.add_command(models)
    main.add_command(mappings)
    for command in MAPPING_VERSION_COMMANDS:
        mappings.add_command(command)
    main.add_command(connections)
    main.add_command(users)
    main.add_command(tokens)


_register_commands()
