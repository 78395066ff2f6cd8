"""``tillbridge demo``: the whole thing on one machine, on the embedded defaults.

Starts both sandboxes, the web service, a worker and the scheduler as separate processes (an
embedded Redis and a SQLite file unless REDIS_URL / DATABASE_URL are set), places sample
Magento orders, shows them arriving in Heartland, prints where to look, and stops everything
cleanly on Ctrl-C.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

import requests
from cryptography.fernet import Fernet

from service.app.embedded import embedded_redis_url
from service.app.processes import ProcessGroup
from service.sandbox.seed import generate
from service.settings import load_settings, replaced, secrets, value_of
from service.store.db import Store, database_url

ADMIN_USER = "admin"
# The demo's admin password, the same at every run so the README can state it. For the demo only:
# a real deployment creates its users with `tillbridge users create` (and `tillbridge web` never
# makes this user).
DEMO_ADMIN_PASSWORD = "tillbridge-demo"


class Demo:
    def __init__(self, *, orders: int | None = None, web_port: int | None = None, heartland_port: int | None = None,
                 magento_port: int | None = None, exit_when_synced: bool = False) -> None:
        self.settings = load_settings()
        s = self.settings
        self.orders = orders if orders is not None else s.DEMO_ORDERS
        self.web_port = web_port or s.WEB_PORT
        self.heartland_port = heartland_port or s.DEMO_HEARTLAND_PORT
        self.magento_port = magento_port or s.DEMO_MAGENTO_PORT
        self.exit_when_synced = exit_when_synced
        self.data_dir = Path(s.DATA_DIR).resolve() / "demo"
        self.group = ProcessGroup(self.data_dir)

    # -- orchestration --------------------------------------------------------------------------
    def run(self) -> int:
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        try:
            env = self.prepare()
            self.start_processes(env)
            self.wait_ready()
            placed = self.place_orders()
            web_only = self.place_web_only_order()
            synced = self.follow(placed)
            self.show_review(web_only)
            self.place_review_cases(placed)
            if synced and placed:
                self.round_trip(placed[0])
            self.show_final_state()
            self.show_review_queues()
            self.print_where_to_look()
            if self.exit_when_synced:
                return 0 if synced else 1
            print("Running. Press Ctrl-C to stop everything.", flush=True)
            while True:
                for name, code in self.group.exited():
                    print(f"{name} exited with {code}; stopping (its log: {self.group.log_path(name)})", flush=True)
                    return 1
                time.sleep(1)
        except KeyboardInterrupt:
            print("\nstopping…", flush=True)
            return 0
        finally:
            self.stop()

    def prepare(self) -> dict[str, str]:
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)  # the sandboxes start fresh, so the store does too
        self.data_dir.mkdir(parents=True)
        s = self.settings
        redis_url = s.REDIS_URL or embedded_redis_url(str(self.data_dir))
        db_url = database_url(s.DATABASE_URL, str(self.data_dir))
        store = Store(db_url)
        store.upgrade()
        if s.REDIS_URL or s.DATABASE_URL:
            print("note: using REDIS_URL/DATABASE_URL from the environment", flush=True)
        self.admin_password = os.environ.get("TILLBRIDGE_DEMO_PASSWORD") or DEMO_ADMIN_PASSWORD
        self.ensure_admin(store)
        store.dispose()
        poll_interval = os.environ.get("POLL_INTERVAL_SECONDS", "5")  # the backstop, quick for a demo
        self.poll_seconds = float(poll_interval)
        env = dict(os.environ)
        env.update(self.demo_secrets())
        env.update({
            "REDIS_URL": redis_url,
            "DATABASE_URL": db_url,
            "DATA_DIR": str(self.data_dir),
            "AUTO_MIGRATE": "0",
            "TILLBRIDGE_HEARTLAND_URL": f"http://127.0.0.1:{self.heartland_port}/api",
            "TILLBRIDGE_MAGENTO_URL": f"http://127.0.0.1:{self.magento_port}/rest",
            "TILLBRIDGE_HEARTLAND_TOKEN": s.TILLBRIDGE_HEARTLAND_TOKEN,
            "TILLBRIDGE_MAGENTO_TOKEN": s.TILLBRIDGE_MAGENTO_TOKEN,
            "TILLBRIDGE_PUBLIC_URL": f"http://127.0.0.1:{self.web_port}",
            "POLL_INTERVAL_SECONDS": poll_interval,
            # the connections page stores credentials encrypted; each demo run starts fresh, so a new key will do
            "TILLBRIDGE_ENCRYPTION_KEY": os.environ.get("TILLBRIDGE_ENCRYPTION_KEY") or Fernet.generate_key().decode(),
        })
        return env

    def demo_secrets(self) -> dict[str, str]:
        """Random secrets for this run, handed to every process (the sandbox signs events with the
        webhook secret): nothing runs on a published default, as in a real deployment. Ones the
        environment sets are kept when they would pass the startup check."""
        chosen = {}
        for name in secrets.REQUIRED:
            value = value_of(self.settings, name)
            keep = secrets.problem(name, value) is None
            chosen[name] = str(value) if keep else secrets.generate()
        self.settings = replaced(self.settings, chosen)
        return chosen

    def ensure_admin(self, store: Store) -> None:
        try:
            from service.store.users import ensure_user
        except ImportError:  # the web shell is optional for the sync itself
            self.admin_password = ""
            return
        ensure_user(store, ADMIN_USER, self.admin_password, "admin")

    def start_processes(self, env: dict[str, str]) -> None:
        exe = [sys.executable, "-m", "service"]
        s = self.settings
        self.spawn("heartland sandbox", [*exe, "sandbox", "heartland", "--port", str(self.heartland_port),
                                          "--seed", "demo", "--token", s.TILLBRIDGE_HEARTLAND_TOKEN], env)
        self.spawn("magento sandbox", [*exe, "sandbox", "magento", "--port", str(self.magento_port), "--seed", "demo",
                                        "--token", s.TILLBRIDGE_MAGENTO_TOKEN,
                                        "--events-url", f"http://127.0.0.1:{self.web_port}/webhooks/magento"], env)
        self.spawn("web", [*exe, "web", "--port", str(self.web_port), "--workers", "2"], env)
        self.spawn("worker", [*exe, "worker", "--name", f"demo-worker-{os.getpid()}"], env)
        self.spawn("scheduler", [*exe, "scheduler"], env)

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.group.start(name, argv=argv, env=env)

    def wait_ready(self, timeout: float = 60.0) -> None:
        checks = {
            "heartland sandbox": f"http://127.0.0.1:{self.heartland_port}/__sandbox/faults",
            "magento sandbox": f"http://127.0.0.1:{self.magento_port}/__sandbox/faults",
            "web": f"http://127.0.0.1:{self.web_port}/healthz",
        }
        deadline = time.time() + timeout
        pending = dict(checks)
        while pending and time.time() < deadline:
            for name, url in list(pending.items()):
                try:
                    if requests.get(url, timeout=1).status_code == 200:
                        print(f"  {name:<18} up at {url.rsplit('/', 1)[0]}", flush=True)
                        del pending[name]
                except requests.RequestException:
                    pass
            for name, code in self.group.exited():
                raise SystemExit(f"{name} exited with {code}; see {self.group.log_path(name)}")
            time.sleep(0.2)
        if pending:
            raise SystemExit(f"not ready after {timeout:.0f} s: {', '.join(pending)} (logs in {self.data_dir})")

    def place_orders(self) -> list[dict[str, Any]]:
        seed = generate("demo")
        rng = random.Random(7)
        url = f"http://127.0.0.1:{self.magento_port}/__sandbox/checkout"
        placed = []
        print(f"placing {self.orders} sample Magento orders…", flush=True)
        for _ in range(self.orders):
            customer = rng.choice(seed.customers)
            lines = [{"sku": p.sku, "qty": rng.randint(1, 3)} for p in rng.sample(seed.products, rng.randint(1, 4))]
            body = {"customer_email": customer.email, "items": lines,
                    "payment_method": rng.choice(["checkmo", "braintree", "paypal_express"])}
            response = requests.post(url, json=body, timeout=10)
            response.raise_for_status()
            placed.append(response.json())
        return placed

    def place_web_only_order(self) -> dict[str, Any] | None:
        """An order for a product Magento sells but Heartland does not know: it waits in review."""
        from service.connectors.magento.client import MagentoClient

        magento = MagentoClient(f"http://127.0.0.1:{self.magento_port}/rest",
                                token=self.settings.TILLBRIDGE_MAGENTO_TOKEN)
        magento.create_product({"sku": "WEB-ONLY-1", "name": "Web-only gift wrap", "price": 4.5,
                                "attribute_set_id": 4, "type_id": "simple", "status": 1, "visibility": 4,
                                "extension_attributes": {"stock_item": {"qty": 100, "is_in_stock": True}}})
        response = requests.post(f"http://127.0.0.1:{self.magento_port}/__sandbox/checkout",
                                 json={"items": [{"sku": "WEB-ONLY-1", "qty": 1}, {"sku": "TEE-1000", "qty": 1}]},
                                 timeout=10)
        response.raise_for_status()
        return dict(response.json())

    # -- orders and customers a person should look at --------------------------------------------------
    def checkout(self, body: dict[str, Any]) -> dict[str, Any]:
        response = requests.post(f"http://127.0.0.1:{self.magento_port}/__sandbox/checkout", json=body, timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def place_review_cases(self, placed: list[dict[str, Any]]) -> None:
        """Orders the risk team should see and customers who may be ones Heartland already has, so
        both review queues (/reviews/orders, /reviews/customers) have something to decide.

        Risk: a guest's 1,500 units (500 each of three T-shirts), a guest's first order of 120 of
        the dearest jacket, and a card-testing burst (one guest email, a new card on each of five
        small orders). Duplicates: shoppers who already bought check out again as guests from another
        mailbox with the same name before the @, a typo in their first name and a new phone number.
        """
        from service.connectors.magento.client import MagentoClient

        seed = generate("demo")
        magento = MagentoClient(f"http://127.0.0.1:{self.magento_port}/rest",
                                token=self.settings.TILLBRIDGE_MAGENTO_TOKEN)
        cheap = sorted(seed.products, key=lambda p: p.price)[:3]
        dearest = max(seed.products, key=lambda p: p.price)
        for product in (*cheap, dearest):  # the sandbox holds a few dozen of each; these orders need more
            magento.set_stock_qty(product.sku, 10_000, is_in_stock=True)
        print("\nplacing orders for the risk team's review queue…", flush=True)
        bulk = self.checkout({"guest": True, "customer_email": "bulk.buyer@mailbox.example.org",
                              "items": [{"sku": p.sku, "qty": 500} for p in cheap], "payment_method": "checkmo"})
        print(f"  #{bulk['increment_id']}: a guest orders 1,500 units ({', '.join(p.sku for p in cheap)})", flush=True)
        dear = self.checkout({"guest": True, "customer_email": "first.timer@mailbox.example.org",
                              "items": [{"sku": dearest.sku, "qty": 120}], "payment_method": "braintree"})
        print(f"  #{dear['increment_id']}: a guest's first order, 120 × {dearest.sku} "
              f"({dear['grand_total']:,.2f})", flush=True)
        burst = []
        for _ in range(5):
            burst.append(self.checkout({"guest": True, "customer_email": "card.tester@mailbox.example.org",
                                        "items": [{"sku": cheap[0].sku, "qty": 1}], "payment_method": "braintree"}))
            # Each order is scored against the ones before it: let this one be scored, in an earlier second.
            self.wait_scored(str(burst[-1]["increment_id"]))
            time.sleep(1.0)
        print(f"  #{burst[0]['increment_id']}–#{burst[-1]['increment_id']}: five small orders, a new card each "
              "(card testing)", flush=True)
        print("placing orders from customers Heartland may already have…", flush=True)
        by_email = {c.email.lower(): c for c in seed.customers}
        known = list(dict.fromkeys(str(o.get("customer_email") or "").lower() for o in placed))
        for email in [e for e in known if e in by_email][:3]:
            customer = by_email[email]
            first = customer.first_name[:-2] + customer.first_name[-1] + customer.first_name[-2]  # a typo
            address = customer.address
            local = email.split("@", 1)[0]
            order = self.checkout({
                "guest": True, "customer_email": f"{local}@inbox.example.net",
                "firstname": first, "lastname": customer.last_name,
                "address": {"firstname": first, "lastname": customer.last_name, "street": [address.street],
                            "city": address.city, "postcode": address.postcode, "country_id": address.country,
                            "region": {"region_code": address.region_code, "region": address.region,
                                       "region_id": address.region_id}, "region_id": address.region_id,
                            "telephone": "+13035550123"},
                "items": [{"sku": cheap[0].sku, "qty": 1}], "payment_method": "checkmo"})
            print(f"  #{order['increment_id']}: {first} {customer.last_name} <{local}@inbox.example.net>, "
                  f"{customer.first_name}'s address, a new phone", flush=True)

    def wait_scored(self, increment_id: str, timeout: float = 20.0) -> None:
        """Until the orders flow has scored this order (its features are in the store)."""
        from sqlalchemy import select

        from service.store.tables import OrderFact

        store = Store(database_url(self.settings.DATABASE_URL, str(self.data_dir)))
        try:
            deadline = time.time() + timeout
            while time.time() < deadline:
                with store.session() as session:
                    if session.scalar(select(OrderFact.id).where(OrderFact.increment_id == increment_id)) is not None:
                        return
                time.sleep(0.2)
        finally:
            store.dispose()

    def show_review_queues(self) -> None:
        """How many held orders and possible duplicate customers wait for a person."""
        from service.store import customer_reviews, reviews

        store = Store(database_url(self.settings.DATABASE_URL, str(self.data_dir)))
        try:
            held = reviews.counts_by_state(store).get("queued", 0)
            pairs = customer_reviews.counts(store).get("pending", 0)
        finally:
            store.dispose()
        print(f"Review queues: {held} orders held for the risk team, {pairs} possible duplicate customers",
              flush=True)

    def show_review(self, order: dict[str, Any] | None, timeout: float = 20.0) -> None:
        if order is None:
            return
        store = Store(database_url(self.settings.DATABASE_URL, str(self.data_dir)))
        from service.store import items

        deadline = time.time() + timeout
        try:
            while time.time() < deadline:
                for item in items.search(store, state="review", limit=20):
                    if str(order.get("increment_id")) in item.label:
                        print(f"  Magento order #{order['increment_id']} waits in review: {item.reason}", flush=True)
                        return
                time.sleep(0.3)
        finally:
            store.dispose()

    def follow(self, placed: list[dict[str, Any]], timeout: float = 60.0) -> bool:
        """Print each order as it arrives in Heartland; True when all did."""
        heartland = f"http://127.0.0.1:{self.heartland_port}/api"
        headers = {"Authorization": f"Bearer {self.settings.TILLBRIDGE_HEARTLAND_TOKEN}"}
        wanted = {str(o.get("increment_id")) for o in placed}
        seen: set[str] = set()
        started = time.time()
        while seen != wanted and time.time() - started < timeout:
            response = requests.get(f"{heartland}/sales/orders", params={"per_page": 500}, headers=headers, timeout=5)
            if response.ok:
                for row in response.json().get("results", []):
                    number = str((row.get("custom") or {}).get("magento_order_number", ""))
                    if number in wanted and number not in seen:
                        seen.add(number)
                        print(f"  Magento order #{number} → Heartland order #{row.get('public_id')} "
                              f"({time.time() - started:.1f} s)", flush=True)
            time.sleep(0.3)
        print(f"{len(seen)} of {len(wanted)} orders in Heartland", flush=True)
        return seen == wanted

    # -- the way back: Heartland → Magento ---------------------------------------------------------------
    def clients(self) -> tuple[Any, Any]:
        from service.connectors.heartland.client import HeartlandClient
        from service.connectors.magento.client import MagentoClient

        return (HeartlandClient(f"http://127.0.0.1:{self.heartland_port}/api",
                                token=self.settings.TILLBRIDGE_HEARTLAND_TOKEN),
                MagentoClient(f"http://127.0.0.1:{self.magento_port}/rest",
                              token=self.settings.TILLBRIDGE_MAGENTO_TOKEN))

    def round_trip(self, order: dict[str, Any], timeout: float = 30.0) -> None:
        """One order's life after checkout, as a merchant sees it: Heartland's webhooks registered,
        the order fulfilled in Heartland (a Magento shipment with its tracking number), one line
        refunded in Magento (a Heartland return), and a price changed in Heartland (the Magento
        product follows)."""
        from service.api.heartland_hooks import hook_url

        heartland, magento = self.clients()
        heartland.register_webhook(hook_url(f"http://127.0.0.1:{self.web_port}",
                                            self.settings.TILLBRIDGE_HEARTLAND_WEBHOOK_TOKEN),
                                   ["item_created", "item_updated", "customer_created", "customer_updated",
                                    "sales_transaction_completed"])
        number = str(order["increment_id"])
        found = heartland.list("sales/orders", {"custom@magento_order_number": number}, per_page=1).results
        if not found:
            return
        sales_order = found[0]
        print(f"\nHeartland fulfils order #{sales_order['public_id']} and ships it with UPS:", flush=True)
        lines = heartland.sales_order_lines(int(sales_order["id"]))
        location = int(lines[0]["ship_from_location_id"])
        station = int(heartland.stations(location)[0]["id"])
        invoice = heartland.create_invoice(int(sales_order["id"]), station, location, None,
                                           {"tracking_number": "1Z999AA10123456784", "carrier": "UPS"})
        heartland.complete_invoice(int(invoice["id"]))
        entity_id = int(order["entity_id"])
        shipments = self.wait(lambda: magento.search_shipments([("order_id", entity_id)]).get("items") or [], timeout)
        if shipments:
            tracks = ", ".join(f"{t.get('title')} {t.get('track_number')}" for t in shipments[0].get("tracks") or [])
            print(f"  Heartland invoice #{invoice.get('public_id') or invoice['id']} → Magento shipment "
                  f"#{shipments[0].get('increment_id')} for order #{number} ({tracks}; customer notified)", flush=True)

        item = next(i for i in order["items"] if not i.get("parent_item_id"))
        print(f"The customer returns one {item['sku']}; Magento refunds it:", flush=True)
        magento.invoice(entity_id)  # capture first: Magento refunds what it has invoiced
        memo_id = magento.refund(entity_id, {int(item["item_id"]): 1}, shipping_amount=0)
        ref = f"magento-creditmemo:default:{memo_id}"
        returned = self.wait(lambda: heartland.list("sales/tickets", {"custom@tillbridge_ref": ref}).results, timeout)
        if returned:
            memo_number = magento.creditmemo(memo_id).get("increment_id") or memo_id
            print(f"  Magento credit memo #{memo_number} → Heartland return #{returned[0].get('public_id')} against "
                  f"invoice #{invoice.get('public_id') or invoice['id']}", flush=True)

        record = heartland.find_item_by_public_id(str(item["sku"]))
        if record is not None:
            price = round(float(record.get("price") or 0) + 1.0, 2)
            print(f"Heartland raises the price of {item['sku']} to {price:.2f}:", flush=True)
            heartland.update_item(int(record["id"]), {"price": price})
            if self.wait(lambda: float(magento.product(str(item["sku"])).get("price") or 0) == price, timeout):
                print(f"  Heartland item #{item['sku']} → Magento product {item['sku']} at {price:.2f}", flush=True)

    @staticmethod
    def wait(check: Any, timeout: float) -> Any:
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                found = check()
            except Exception:  # noqa: BLE001 - not there yet (a 404) or a sandbox mid-restart: look again
                found = None
            if found:
                return found
            time.sleep(0.3)
        print("  (not there yet: see the items page for why)", flush=True)
        return None

    def show_final_state(self, timeout: float = 60.0) -> None:
        """Once every event has settled, the items by state and the dead letters. Settled: nothing
        received or processing, and no new item for a whole poll interval (a poll that finds
        nothing new adds nothing, so nothing more is on its way)."""
        from service.store import items

        quiet = self.poll_seconds + 1.0
        store = Store(database_url(self.settings.DATABASE_URL, str(self.data_dir)))
        try:
            deadline = time.time() + timeout
            last: dict[str, int] = {}
            still_since = time.time()
            while time.time() < deadline:
                counts = items.counts_by_state(store)
                if counts != last:
                    last, still_since = counts, time.time()
                elif not counts.get("received") and not counts.get("processing") and time.time() - still_since >= quiet:
                    break
                time.sleep(0.3)
            states = ", ".join(f"{n} {state}" for state, n in sorted(last.items()))
            print(f"\nFinal state: {sum(last.values())} items ({states}); {last.get('dead', 0)} dead letters", flush=True)
            for item in items.search(store, state="dead", limit=20):
                print(f"  dead: {item.label} ({item.flow}): {item.reason}", flush=True)
        finally:
            store.dispose()

    def print_where_to_look(self) -> None:
        web = f"http://127.0.0.1:{self.web_port}"
        print("\nWhere to look:", flush=True)
        if self.admin_password:
            print(f"  Tillbridge        {web}/  (user {ADMIN_USER}, password {self.admin_password})", flush=True)
            print(f"  Sync items        {web}/items", flush=True)
            print(f"  Held orders       {web}/reviews/orders", flush=True)
            print(f"  Duplicates        {web}/reviews/customers", flush=True)
            print(f"  Alerts            {web}/alerts", flush=True)
            print(f"  Dead letters      {web}/dead-letters", flush=True)
        print(f"  Heartland sandbox http://127.0.0.1:{self.heartland_port}/  (request log: /__sandbox/requests)", flush=True)
        print(f"  Magento sandbox   http://127.0.0.1:{self.magento_port}/  (request log: /__sandbox/requests)", flush=True)
        print(f"  Logs              {self.data_dir}/*.log", flush=True)

    def stop(self) -> None:
        for problem in self.group.stop(10):
            print(problem, file=sys.stderr, flush=True)
