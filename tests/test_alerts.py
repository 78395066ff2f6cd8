"""Alerts end to end: rules measured on the real store and Redis, notices to a real HTTP receiver.

The outage test runs the whole stack (sandboxes over HTTP, a worker and the scheduler as
subprocesses): Heartland answers 503, the breaker opens, the scheduler's alert check posts a signed
notice to a local webhook within a minute, and a resolve notice once Heartland answers again.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from service.operations import alerts
from service.rules.loader import RuleError
from service.settings import repo_path
from service.store.tables import Alert, AlertEvent, DeadLetter, SyncItem
from tests.stack import build_stack

ALERT_SECRET = "alert-receiver-secret-6f1d2b9a8c7e4d3f2a1b"


class Receiver:
    """A local webhook receiver: records every POST (headers and body); answers ``status``."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]

    def notices_of(self, fingerprint_rule: str, subject: str, state: str) -> list[dict[str, Any]]:
        return [a for b in self.bodies() for a in b.get("alerts", [])
                if a["rule"] == fingerprint_rule and a["subject"] == subject and a["state"] == state]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def rules_dir(tmp_path: Path, text: str) -> str:
    """A copy of rules/ whose alerts.yaml is ``text``."""
    target = tmp_path / "rules"
    shutil.copytree(repo_path("rules"), target)
    (target / "alerts.yaml").write_text(text)
    return str(target)


DEAD_LETTER_RULES = """
repeat_minutes: 0
channels:
  - {name: hook, type: webhook, url_setting: ALERT_WEBHOOK_URL, secret_setting: ALERT_WEBHOOK_SECRET}
rules:
  - {name: dead_letters, kind: dead_letters, above: 0, severity: warning, summary: "{value:g} open dead letter(s)"}
  - {name: backlog, kind: review_backlog, above: 0, severity: info, summary: "{value:g} in {subject}"}
"""


@pytest.fixture
def alert_app(settings: dict[str, Any], tmp_path: Path, receiver: Receiver) -> Iterator[Any]:
    from service.app.factory import create_app

    app = create_app({**settings, "AUTO_MIGRATE": False, "RULES_DIR": rules_dir(tmp_path, DEAD_LETTER_RULES),
                      "ALERT_WEBHOOK_URL": receiver.url, "ALERT_WEBHOOK_SECRET": ALERT_SECRET,
                      "ALERT_NOTIFY_ATTEMPTS": 2})
    yield app
    app.extensions["tillbridge"].store.dispose()


def add_dead_letter(runtime: Any, label: str = "order #000000042") -> int:
    with runtime.store.session() as s:
        item = SyncItem(flow="orders", entity_key=f"orders:{label}", label=label, state="dead", payload={})
        s.add(item)
        s.flush()
        letter = DeadLetter(item_id=item.id, flow="orders", failure_class="data", error="bad", payload={})
        s.add(letter)
        s.flush()
        return letter.id


def resolve_dead_letters(runtime: Any) -> None:
    from datetime import UTC, datetime

    with runtime.store.session() as s:
        for letter in s.query(DeadLetter).all():
            letter.resolved_at = datetime.now(UTC)


def test_notices_are_grouped_signed_and_resolved(alert_app: Any, receiver: Receiver) -> None:
    runtime = alert_app.extensions["tillbridge"]
    add_dead_letter(runtime)
    with runtime.store.session() as s:
        s.add(SyncItem(flow="orders", entity_key="orders:x", label="order #7", state="review", payload={}))

    first = alerts.evaluate(runtime)

    assert sorted(first.fired) == ["backlog/items in review", "dead_letters"]
    assert len(receiver.received) == 1, "two alerts of one check go as one message"
    headers, body = receiver.received[0]
    Webhook(ALERT_SECRET.encode()).verify(body, headers)  # raises when the signature is wrong
    notice = json.loads(body)
    assert notice["firing"] == 2 and notice["url"].endswith("/alerts")
    assert {a["summary"] for a in notice["alerts"]} == {"1 open dead letter(s)", "1 in items in review"}

    alerts.evaluate(runtime)
    assert len(receiver.received) == 1, "an alert still firing is not sent again before repeat_minutes"

    resolve_dead_letters(runtime)
    third = alerts.evaluate(runtime)
    assert third.resolved == ["dead_letters"]
    resolved = receiver.notices_of("dead_letters", "", "resolved")
    assert len(resolved) == 1 and len(receiver.received) == 2
    with runtime.store.session() as s:
        kinds = [e.kind for e in s.query(AlertEvent).order_by(AlertEvent.id)]
    assert kinds.count("fired") == 2 and kinds.count("resolved") == 1 and kinds.count("notified") == 3


def test_a_silence_holds_notices_back_until_it_ends(alert_app: Any, receiver: Receiver) -> None:
    runtime = alert_app.extensions["tillbridge"]
    silence = alerts.add_silence(runtime, rule="dead_letters", subject="", hours=1, reason="known: bad import",
                                 actor="ops")
    add_dead_letter(runtime)

    result = alerts.evaluate(runtime)

    assert result.fired == ["dead_letters"]
    assert receiver.received == []
    with runtime.store.session() as s:
        assert [e.kind for e in s.query(AlertEvent)] == ["fired", "silenced"]
    assert alerts.end_silence(runtime, silence.id, "ops")
    resolve_dead_letters(runtime)
    alerts.evaluate(runtime)
    assert receiver.notices_of("dead_letters", "", "resolved"), "after the silence, the resolve notice goes out"


def test_a_refusing_channel_is_retried_then_given_up(alert_app: Any, receiver: Receiver) -> None:
    runtime = alert_app.extensions["tillbridge"]
    receiver.status = 500
    add_dead_letter(runtime)

    first = alerts.evaluate(runtime)
    assert "answered 500" in first.failed["hook"] and "/hook" not in first.failed["hook"], \
        "the error names the host, never the hook's path (often a secret)"
    alerts.evaluate(runtime)  # second try: ALERT_NOTIFY_ATTEMPTS is 2 here
    alerts.evaluate(runtime)  # nothing owed any more
    assert len(receiver.received) == 2
    with runtime.store.session() as s:
        alert = s.query(Alert).one()
        assert alert.pending_channels == []
        assert [e.kind for e in s.query(AlertEvent).order_by(AlertEvent.id)][-1] == "gave_up"


def test_a_mistake_in_the_rules_file_names_the_rule(settings: dict[str, Any], tmp_path: Path) -> None:
    from service.app.factory import create_app

    app = create_app({**settings, "AUTO_MIGRATE": False, "RULES_DIR": rules_dir(
        tmp_path, "rules:\n  - {name: lag, kind: poll_lagg, above: 1}\n")})
    with pytest.raises(RuleError, match="rule 'lag' has kind 'poll_lagg'; use one of .*poll_lag_seconds"):
        alerts.evaluate(app.extensions["tillbridge"])
    app.extensions["tillbridge"].store.dispose()


def test_heartland_outage_raises_the_breaker_alert_and_resolves_it(settings: dict[str, Any], tmp_path: Path,
                                                                   receiver: Receiver) -> None:
    stack = build_stack({**settings, "ALERT_WEBHOOK_URL": receiver.url, "ALERT_WEBHOOK_SECRET": ALERT_SECRET,
                         "ALERT_INTERVAL_SECONDS": 1, "POLL_INTERVAL_SECONDS": 1}, tmp_path)
    try:
        stack.start_worker()
        stack.start_scheduler()
        stack.wait_started("worker")
        stack.wait_started("scheduler")
        stack.faults(stack.heartland, status=503, error_rate=1.0)
        outage_at = time.monotonic()
        stack.checkout([{"sku": "TEE-1000", "qty": 1}], email="outage@example.com")

        stack.wait_for(lambda: bool(receiver.notices_of("breaker_open", "heartland", "firing")), timeout=60,
                       what="the breaker alert at the local webhook")
        assert time.monotonic() - outage_at < 60
        headers, body = next((h, b) for h, b in receiver.received if b"breaker_open" in b)
        Webhook(ALERT_SECRET.encode()).verify(body, headers)
        firing = receiver.notices_of("breaker_open", "heartland", "firing")[0]
        assert firing["severity"] == "critical" and "heartland is failing" in firing["summary"]

        # The charts show the burst: the minute rolled up now holds the order waiting for Heartland.
        from datetime import UTC, datetime, timedelta

        from service.operations import timeseries
        stack.wait_for(lambda: stack.states().get("received", 0) >= 1, timeout=30, what="the order waiting")
        later = datetime.now(UTC) + timedelta(minutes=1)
        timeseries.run_due(stack.runtime, now=later)
        queue = timeseries.series(stack.runtime, window="1h", flow="orders", now=later)
        assert max(d or 0 for d in queue.depth) >= 1, queue.depth[-3:]
        page = stack.app.test_client()
        from service.store.users import create_user
        from tests.web.support import PASSWORD, sign_in

        create_user(stack.runtime.store, "ops", PASSWORD, "operator")
        assert sign_in(page, "ops").status_code == 302

        stack.faults(stack.heartland)  # Heartland answers again
        stack.wait_for(lambda: bool(receiver.notices_of("breaker_open", "heartland", "resolved")), timeout=60,
                       what="the breaker alert's resolve notice")
        html = page.get("/alerts").get_data(as_text=True)
        assert "breaker_open" in html and "resolved" in html and "notified" in html
    finally:
        stack.stop()


def test_credentials_refused_fires_per_flow(settings: dict[str, Any], tmp_path: Path) -> None:
    from service.app.factory import create_app

    app = create_app({**settings, "AUTO_MIGRATE": False, "RULES_DIR": rules_dir(tmp_path, """
rules:
  - {name: credentials_refused, kind: auth_failures, window_minutes: 15, above: 0, severity: critical,
     summary: "{value:g} {subject} item(s) refused for their credentials"}
""")})
    runtime = app.extensions["tillbridge"]
    with runtime.store.session() as s:
        s.add(SyncItem(flow="inventory", entity_key="inventory:1", state="dead", failure_class="auth", payload={}))
    result = alerts.evaluate(runtime)
    assert result.fired == ["credentials_refused/inventory"]
    with runtime.store.session() as s:
        assert s.query(Alert).one().summary == "1 inventory item(s) refused for their credentials"
    runtime.store.dispose()


class SmtpReceiver:
    """A minimal SMTP server on a thread (enough of RFC 5321 for smtplib): keeps each message's data."""

    def __init__(self) -> None:
        import socketserver

        self.messages: list[str] = []
        receiver = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.wfile.write(b"220 test ESMTP\r\n")
                while line := self.rfile.readline():
                    verb = line.decode().strip().split(" ")[0].upper()
                    if verb in ("EHLO", "HELO"):
                        self.wfile.write(b"250 test\r\n")
                    elif verb == "DATA":
                        self.wfile.write(b"354 go on\r\n")
                        data = []
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            data.append(chunk.decode())
                        receiver.messages.append("".join(data))
                        self.wfile.write(b"250 queued\r\n")
                    elif verb == "QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 ok\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_slack_and_email_get_the_same_grouped_notice(settings: dict[str, Any], tmp_path: Path,
                                                     receiver: Receiver) -> None:
    from service.app.factory import create_app

    smtp = SmtpReceiver()
    try:
        app = create_app({**settings, "AUTO_MIGRATE": False, "RULES_DIR": rules_dir(tmp_path, """
channels:
  - {name: slack, type: slack, url_setting: ALERT_SLACK_WEBHOOK_URL}
  - {name: email, type: email, to_setting: ALERT_EMAIL_TO}
rules:
  - {name: dead_letters, kind: dead_letters, above: 0, severity: warning, summary: "{value:g} open dead letter(s)"}
"""), "ALERT_SLACK_WEBHOOK_URL": receiver.url, "ALERT_EMAIL_TO": "ops@example.com, oncall@example.com",
            "ALERT_SMTP_HOST": "127.0.0.1", "ALERT_SMTP_PORT": smtp.port, "ALERT_SMTP_STARTTLS": False})
        runtime = app.extensions["tillbridge"]
        add_dead_letter(runtime)

        result = alerts.evaluate(runtime)

        assert result.notified == {"slack": 1, "email": 1}, result.failed
        slack = receiver.bodies()[0]
        assert slack["text"].startswith("[FIRING:1] Tillbridge alerts") and "1 open dead letter(s)" in slack["text"]
        assert len(smtp.messages) == 1
        mail = smtp.messages[0]
        assert "Subject: [FIRING:1] Tillbridge alerts" in mail and "To: ops@example.com, oncall@example.com" in mail
        assert "1 open dead letter(s)" in mail and "/alerts" in mail
        runtime.store.dispose()
    finally:
        smtp.close()


def test_open_reconciliation_exceptions_fire_per_category_and_resolve(settings: dict[str, Any],
                                                                      tmp_path: Path) -> None:
    from service.app.factory import create_app
    from service.store.api_tables import ReconciliationResult, ReconciliationRun

    app = create_app({**settings, "AUTO_MIGRATE": False, "RULES_DIR": rules_dir(tmp_path, """
rules:
  - {name: reconciliation_exceptions, kind: reconciliation_exceptions, above: 0, severity: warning,
     summary: "{value:g} open reconciliation exception(s) of kind {subject}"}
""")})
    runtime = app.extensions["tillbridge"]
    with runtime.store.session() as s:
        run = ReconciliationRun(date_from="2026-12-06", date_to="2026-12-06", trigger="schedule")
        s.add(run)
        s.flush()
        for n, (category, state) in enumerate([("amount_mismatch", "open"), ("amount_mismatch", "open"),
                                               ("missing_in_heartland", "resolved"), ("matched", "none")]):
            s.add(ReconciliationResult(run_id=run.id, match_key=f"k{n}", business_date="2026-12-06",
                                       category=category, state=state))
    result = alerts.evaluate(runtime)
    assert result.fired == ["reconciliation_exceptions/amount_mismatch"]
    with runtime.store.session() as s:
        assert s.query(Alert).one().summary == "2 open reconciliation exception(s) of kind amount_mismatch"
        s.query(ReconciliationResult).filter(ReconciliationResult.state == "open").update({"state": "resolved"})
    assert alerts.evaluate(runtime).resolved == ["reconciliation_exceptions/amount_mismatch"]
    runtime.store.dispose()
