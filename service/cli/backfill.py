"""``tillbridge backfill products|inventory|customers|status``: the initial load, Heartland → Magento.

A run pages through Heartland, reads what Magento already has in bulk, writes only what differs and
binds it; Ctrl-C (or a crash) keeps the progress, and the same command resumes after the last
finished page. The progress line shows on a terminal only; the summary always prints.
"""

from __future__ import annotations

import signal
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

import click

from service.kernel.errors import SyncError

if TYPE_CHECKING:  # the flows (and the models they load) are imported when a backfill runs, not by every command
    from service.flows.backfill import Summary


def _runtime() -> Any:
    from service.app.factory import create_app

    return create_app().extensions["tillbridge"]


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class ProgressLine:
    """One self-rewriting line on a terminal: records done/total, rate, ETA. Silent elsewhere."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.shown = False
        self.last = 0.0

    def __call__(self, summary: Summary) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self.last < 0.2 and summary.done < summary.total):
            return
        self.last = now
        total = max(summary.total, summary.done)
        share = summary.done / total if total else 1.0
        width = 24
        bar = "#" * int(share * width) + "-" * (width - int(share * width))
        rate = summary.rate
        eta = _duration((total - summary.done) / rate) if rate > 0 else "?"
        self.stream.write(f"\r{summary.resource} [{bar}] {summary.done}/{total} {share:4.0%}  "
                          f"{rate:,.0f}/s  ETA {eta}   ")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


@click.group()
def backfill() -> None:
    """Initial load, Heartland → Magento: products, inventory, customers (resumable)."""


def _make(resource: str, doc: str) -> click.Command:
    @click.option("--since", default=None, metavar="DATE",
                  help="Only records updated since DATE (YYYY-MM-DD or ISO-8601, UTC); for inventory, items "
                       "whose stock moved since then.")
    @click.option("--dry-run", is_flag=True, help="Read both sides and count what would change; write nothing.")
    @click.option("--restart", is_flag=True, help="Start over instead of resuming an interrupted run.")
    @click.option("--page-size", type=click.IntRange(1, 1000), default=None,
                  help="Heartland records per page; progress is kept per page (default BACKFILL_PAGE_SIZE, 200).")
    @click.option("--concurrency", type=click.IntRange(1, 32), default=None,
                  help="Magento writes in flight at once; MAGENTO_RATE_PER_SECOND still applies "
                       "(default BACKFILL_CONCURRENCY, 4).")
    def command(since: str | None, dry_run: bool, restart: bool, page_size: int | None,
                concurrency: int | None) -> None:
        from service.flows.backfill import Backfill, BackfillError

        progress = ProgressLine()
        # `kill` and a container stop (SIGTERM) stop the run as Ctrl-C does: writes under way finish
        # and are bound, progress is kept, the next run resumes.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            job = Backfill(_runtime(), resource, since=since, dry_run=dry_run, restart=restart,
                           page_size=page_size, concurrency=concurrency, on_progress=progress)
            summary = job.run()
        except (BackfillError, SyncError) as exc:
            # Heartland or Magento refused before the first page: nothing was written yet.
            raise click.ClickException(str(exc)) from None
        finally:
            progress.close()
        for line in summary.lines():
            click.echo(line)
        if summary.interrupted:
            sys.exit(130)
        if summary.stopped:
            sys.exit(1)

    command.__doc__ = doc
    return click.command(resource)(command)


backfill.add_command(_make("products", "Heartland items → Magento products (global scope), bound for later syncs."))
backfill.add_command(_make("inventory", "Heartland salable stock → Magento (stockItems, or MSI source items in "
                                        "batches per rules/inventory.yaml)."))
backfill.add_command(_make("customers", "Heartland customers → Magento accounts, through the customers flow."))
backfill.add_command(_make("giftcards", "Heartland gift cards → Magento gift card accounts, through the gift cards "
                                        "flow (opened with their opening balance, adjustments copied with their keys)."))


@backfill.command("status")
def status() -> None:
    """Where each resource's last backfill got to."""
    from service.store import backfills

    runtime = _runtime()
    shown = False
    for resource in ("products", "inventory", "customers", "giftcards"):
        row = backfills.get(runtime.store, resource)
        if row is None:
            continue
        shown = True
        state = "finished" if row.finished_at else f"stopped after Heartland id {row.last_id} (resumable)"
        counts = ", ".join(f"{v} {k}" for k, v in sorted((row.counts or {}).items())) or "nothing yet"
        since = f" since {row.since}" if row.since else ""
        click.echo(f"{resource}{since}: {row.done}/{row.total} records, {state}; {counts}")
    if not shown:
        click.echo("no backfill has run yet")
