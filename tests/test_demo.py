"""`tillbridge demo` (what `make run` starts) brings everything up, syncs its sample orders, and leaves
both review queues (held orders, possible duplicate customers) with something to decide."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from service.store import customer_reviews, items
from service.store import reviews as order_reviews
from service.store.db import Store
from service.store.tables import DeadLetter, OrderReview


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_syncs_its_sample_orders_and_stops_cleanly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}  # embedded defaults
    env["DATA_DIR"] = str(tmp_path)
    ports = [str(free_port()) for _ in range(3)]
    result = subprocess.run(
        [sys.executable, "-m", "service", "demo", "--orders", "4", "--exit-when-synced",
         "--web-port", ports[0], "--heartland-port", ports[1], "--magento-port", ports[2]],
        env=env, capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 of 4 orders in Heartland" in result.stdout
    assert result.stdout.count("→ Heartland order #") == 4
    # The way back: a Heartland fulfilment, a Magento refund and a Heartland price change.
    assert "→ Magento shipment #" in result.stdout and "United Parcel Service 1Z999AA10123456784" in result.stdout
    assert "→ Heartland return #" in result.stdout
    assert "→ Magento product " in result.stdout
    assert f"http://127.0.0.1:{ports[0]}/items" in result.stdout
    leftovers = subprocess.run(["pgrep", "-f", f"--port {ports[0]}"], capture_output=True, text=True)
    assert leftovers.stdout.strip() == "", "demo left processes running"

    # Its final state: every event settled, no dead letter, and the reviews it leaves on purpose.
    assert "; 0 dead letters" in result.stdout, result.stdout
    store = Store(f"sqlite:///{tmp_path / 'demo' / 'tillbridge.sqlite'}")
    try:
        with store.session() as session:
            dead = [(d.flow, d.error) for d in session.scalars(select(DeadLetter))]
        assert dead == []
        assert set(items.counts_by_state(store)) <= {"done", "ignored", "review"}, items.counts_by_state(store)
        reviews = [i.reason for i in items.search(store, state="review")]
        assert sum("Magento SKU 'WEB-ONLY-1' not found in Heartland" in r for r in reviews) == 1, reviews
        # The risk team's queue: the bulk guest order, the dear first order, and the card-testing burst
        # from its fourth card on, each held in Magento by the anomaly check's guards.
        assert order_reviews.counts_by_state(store) == {"queued": 4}
        with store.session() as session:
            held = [" ".join(r.explanation) for r in session.scalars(select(OrderReview))]
        assert sum("units ordered 1,500" in r for r in held) == 1, held
        assert sum("grand total $26,922.41" in r for r in held) == 1, held
        assert sum("(card testing) 4" in r for r in held) == 1 and sum("(card testing) 5" in r for r in held) == 1
        assert sum(r.startswith("held by a guard") for r in reviews) == 4, reviews
        # The duplicates queue: returning shoppers under another mailbox, a typo and a new phone.
        pending = customer_reviews.search(store)
        assert len(pending) >= 1, customer_reviews.counts(store)
        assert all(p.right_system == "heartland" and 0.45 <= p.score < 0.93 for p in pending), \
            [(p.right_system, p.score) for p in pending]
        assert "Review queues: 4 orders held for the risk team" in result.stdout
        # The showcase order, shipped in Heartland before its card was captured: the capture is money
        # on the invoice that fulfilled it.
        captured = [i.reason for i in items.search(store, state="done", flow="orders", text="recorded captures")]
        assert len(captured) == 1 and " on Heartland invoice #" in captured[0], captured
    finally:
        store.dispose()
