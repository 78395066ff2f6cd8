"""Outbound webhooks, per the Standard Webhooks spec: subscribers, events, signed deliveries.

- endpoints.py   subscriptions: URL (SSRF-guarded), event types, the ``whsec_`` secret (encrypted)
- events.py      what happened, turned into events once (a dedup key per fact) with a delivery per
                 subscribed endpoint; found by scanning finished sync items and decided reviews
- delivery.py    one attempt: sign, POST, record; retries on a schedule over about a day; 410
                 disables the endpoint; a manual replay starts a delivery again
"""

EVENT_TYPES = (
    "order.created",
    "order.synced",
    "payment.succeeded",
    "payment.failed",
    "inventory.updated",
    "customer.merged",
    "reconciliation.exception",
)
