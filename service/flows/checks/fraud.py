"""Anomaly scoring inside the service: the scorer (loaded once per process, following the promoted
model), order history from the store, and the risk team's decisions on held orders.

    scorer = scorer_for(runtime)                          # cached; reloads on promote / rules change
    baseline = store_baseline(runtime.store, scorer)      # this store's threshold and guard maxima
    assessment = scorer.score(order, StoreOrderHistory(runtime.store), baseline)
    approve(runtime, review_id, actor="ann")              # unhold in Magento, item synced again
    reject(runtime, review_id, actor="ann", note="card testing")
    escalate(runtime, review_id, actor="ann")
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, bindparam, func, literal, null, select, union_all
from sqlalchemy.orm import Session

from service.ai.anomaly.features import VELOCITY_WINDOW, order_facts
from service.ai.anomaly.scorer import AnomalyScorer, Assessment
from service.ai.anomaly.threshold import GUARD_PREFIX, StoreBaseline
from service.kernel.errors import SyncError
from service.settings import repo_path
from service.store import reviews
from service.store.db import Store
from service.store.reviews import ReviewError
from service.store.tables import OrderFact, OrderReview

if TYPE_CHECKING:
    from service.flows.context import Context

log = logging.getLogger(__name__)

HOLD_COMMENT = "Held by Tillbridge for a fraud review (score {score:.2f} above {threshold:.2f}); not sent to Heartland yet."
REJECT_COMMENT = "Cancelled after a fraud review by {actor}{note}."
APPROVE_COMMENT = "Released after a fraud review by {actor}{note}."

_scorers: dict[tuple[str, str], AnomalyScorer] = {}
_scorers_lock = threading.Lock()


def scorer_for(runtime: Context) -> AnomalyScorer:
    """The process's scorer for the configured models and rules directories.

    Loading a model costs tens of milliseconds, so it happens once per process; the scorer itself
    follows models/registry.json and rules/anomaly.yaml, so a promote or a new review budget takes
    effect without a restart.
    """
    return scorer_for_paths(runtime.settings.MODELS_DIR, runtime.settings.RULES_DIR)


def scorer_for_paths(models_dir: str, rules_dir: str) -> AnomalyScorer:
    """The process's scorer for a models directory and a rules directory (relative to the checkout)."""
    models = str(repo_path(models_dir))
    rules = str(repo_path(rules_dir))
    key = (models, rules)
    with _scorers_lock:
        scorer = _scorers.get(key)
        if scorer is None:
            scorer = AnomalyScorer.load(Path(models), rules_dir=rules)
            _scorers[key] = scorer
            log.info("anomaly scorer loaded: model %s, threshold %.4f", scorer.model.version, scorer.threshold)
        return scorer


_baselines: dict[tuple[str, int], tuple[float, str, StoreBaseline]] = {}
_baselines_lock = threading.Lock()


def recent_features(store: Store, limit: int) -> list[dict[str, float]]:
    """The features of the store's latest scored orders, newest first (by order time)."""
    return recent_scored(store, limit)[0]


def recent_scored(store: Store, limit: int) -> tuple[list[dict[str, float]], list[tuple[float | None, str]]]:
    """The features of the store's latest scored orders, newest first (by order time), and beside
    them the score each was given and the model version that gave it."""
    with store.session() as s:
        rows = s.execute(select(OrderFact.features, OrderFact.score, OrderFact.model_version)
                         .where(OrderFact.score.is_not(None))
                         .order_by(OrderFact.created_at.desc(), OrderFact.id.desc()).limit(limit))
        kept = [(dict(features), (score, version)) for features, score, version in rows if features]
    return [features for features, _ in kept], [scored for _, scored in kept]


def store_baseline(store: Store, scorer: AnomalyScorer, *, refresh_seconds: float | None = None) -> StoreBaseline:
    """The store's threshold and guard maxima, recomputed from its last N orders at most every
    ``baseline_refresh_seconds`` (rules/anomaly.yaml) per process, and whenever the model changes.

    Orders the current model scored keep their recorded scores; the others (scored by an earlier
    model) are rescored with it, so a promote never mixes two models' scales: a new model waits for
    its own baseline. An expired baseline of the same model is refreshed by a
    thread of its own while orders go on being checked against it (it is seconds old), so no
    order waits for a rescore of the whole window. ``refresh_seconds=0`` recomputes it now.
    """
    rules = scorer.rules
    refresh = rules.baseline_refresh_seconds if refresh_seconds is None else refresh_seconds
    key = (str(store.engine.url), id(scorer))
    stamp = f"{scorer.model.version}|{scorer.budget}|{id(rules)}"
    now = time.monotonic()
    with _baselines_lock:
        cached = _baselines.get(key)
        if cached is not None and cached[1] == stamp and refresh > 0:  # 0: recompute now, in this thread
            if now - cached[0] >= refresh and key not in _refreshing:
                _refreshing.add(key)
                threading.Thread(target=_refresh_baseline, args=(store, scorer, key, stamp),
                                 name="anomaly-baseline", daemon=True).start()
            return cached[2]
    baseline = scorer.baseline(*recent_scored(store, rules.window_orders))
    with _baselines_lock:
        _baselines[key] = (now, stamp, baseline)
    return baseline


_refreshing: set[tuple[str, int]] = set()


def _refresh_baseline(store: Store, scorer: AnomalyScorer, key: tuple[str, int], stamp: str) -> None:
    try:
        baseline = scorer.baseline(*recent_scored(store, scorer.rules.window_orders))
        with _baselines_lock:
            cached = _baselines.get(key)
            if cached is None or cached[1] == stamp:  # a newer model's baseline is not overwritten
                _baselines[key] = (time.monotonic(), stamp, baseline)
    except Exception:  # noqa: BLE001 - the previous baseline stays in use; the next order tries again
        log.exception("refreshing the store's anomaly baseline failed; keeping the previous one")
    finally:
        with _baselines_lock:
            _refreshing.discard(key)


def _prefetch_statement(email: bool, address: bool) -> Any:
    """The union :meth:`StoreOrderHistory._prefetch` runs: ("window", card, address, 0) per order of
    the customer in the window, ("before", ...) when they ordered before it, ("address", ..., count)."""
    no_text = null().cast(String)  # a typed NULL: one type per column on PostgreSQL too
    in_window = (OrderFact.created_at >= bindparam("since"), OrderFact.created_at < bindparam("until"))
    parts: list[Any] = []
    if email:
        parts.append(select(literal("window"), OrderFact.card, OrderFact.address_key, literal(0)).where(
            OrderFact.email == bindparam("email"), *in_window))
        parts.append(select(literal("before"), no_text, no_text, literal(0)).where(select(OrderFact.id).where(
            OrderFact.email == bindparam("email"), OrderFact.created_at < bindparam("since")).exists()))
    if address:
        parts.append(select(literal("address"), no_text, no_text, func.count()).select_from(OrderFact).where(
            OrderFact.address_key == bindparam("address"), *in_window))
    return union_all(*parts)


_PREFETCH = {(email, address): _prefetch_statement(email, address)
             for email in (True, False) for address in (True, False) if email or address}


def _utc(value: datetime) -> datetime:
    # The features work in naive UTC (as Magento's created_at reads); the store keeps aware UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class StoreOrderHistory:
    """The :class:`~service.ai.anomaly.features.OrderHistory` of orders recorded in the store.

    Given the order being scored, everything its features ask (the customer's window, whether
    they ordered before, the address's window) is read in one transaction on first use. Without
    it, the three per-email questions share one read (their window, and whether any order came
    before it), and the address question is a second.
    """

    def __init__(self, store: Store, order: Mapping[str, Any] | None = None) -> None:
        self.store = store
        self._order = order
        self._window: tuple[tuple[str, datetime, datetime], list[tuple[str, str]], bool] | None = None
        self._address: tuple[tuple[str, datetime, datetime], int] | None = None

    def _prefetch(self) -> None:
        """Read all the order's questions at once (once), when the order was given: one prepared
        statement for the customer's window, whether they ordered before it and the address's count
        (building and running a statement each costs more of the check than the database's work)."""
        if self._order is None:
            return
        order, self._order = self._order, None
        facts = order_facts(order)
        if not facts.email and not facts.shipping_address:
            return
        since, until = facts.created_at - VELOCITY_WINDOW, facts.created_at
        email = facts.email.lower()
        with self.store.lookup_engine.connect() as conn:  # one statement: no transaction around it
            rows = conn.execute(_PREFETCH[bool(facts.email), bool(facts.shipping_address)],
                                {"email": email, "address": facts.shipping_address,
                                 "since": _utc(since), "until": _utc(until)}).all()
        if facts.email:
            window = [(card, address) for kind, card, address, _ in rows if kind == "window"]
            self._window = ((email, since, until), window, bool(window) or any(r[0] == "before" for r in rows))
        if facts.shipping_address:
            count = next(int(n) for kind, _, _, n in rows if kind == "address")
            self._address = ((facts.shipping_address, since, until), count)

    @staticmethod
    def _read_window(s: Session, email: str, since: datetime, until: datetime
                     ) -> tuple[tuple[str, datetime, datetime], list[tuple[str, str]], bool]:
        rows = [(card, address) for card, address in s.execute(select(OrderFact.card, OrderFact.address_key).where(
            OrderFact.email == email, OrderFact.created_at >= _utc(since), OrderFact.created_at < _utc(until)))]
        before = bool(rows) or s.scalar(select(OrderFact.id).where(
            OrderFact.email == email, OrderFact.created_at < _utc(since)).limit(1)) is not None
        return (email, since, until), rows, before

    @staticmethod
    def _count_address(s: Session, address_key: str, since: datetime, until: datetime) -> int:
        return int(s.scalar(select(func.count()).select_from(OrderFact).where(
            OrderFact.address_key == address_key, OrderFact.created_at >= _utc(since),
            OrderFact.created_at < _utc(until))) or 0)

    def _email_window(self, email: str, since: datetime, until: datetime) -> list[tuple[str, str]]:
        self._prefetch()
        key = (email.lower(), since, until)
        if self._window is None or self._window[0] != key:
            with self.store.session() as s:
                self._window = self._read_window(s, *key)
        return self._window[1]

    def count_orders(self, email: str, since: datetime, until: datetime) -> int:
        return len(self._email_window(email, since, until))

    def card_fingerprints(self, email: str, since: datetime, until: datetime) -> set[str]:
        return {card for card, _ in self._email_window(email, since, until) if card}

    def address_keys(self, email: str, since: datetime, until: datetime) -> set[str]:
        return {address for _, address in self._email_window(email, since, until) if address}

    def orders_to_address(self, address_key: str, since: datetime, until: datetime) -> int:
        self._prefetch()
        key = (address_key, since, until)
        if self._address is None or self._address[0] != key:
            with self.store.session() as s:
                self._address = (key, self._count_address(s, *key))
        return self._address[1]

    def has_ordered_before(self, email: str, until: datetime) -> bool:
        self._prefetch()
        window = self._window
        if window is not None and window[0][0] == email.lower() and window[0][2] == until:
            return window[2]
        with self.store.session() as s:
            return s.scalar(select(OrderFact.id).where(OrderFact.email == email.lower(),
                                                       OrderFact.created_at < _utc(until)).limit(1)) is not None


def record_order(store: Store, order_key: str, order: Mapping[str, Any], assessment: Assessment | None) -> None:
    """Keep the order's facts (for later orders' velocity) with its features and score (for training)."""
    facts = order_facts(order)
    reviews.record_fact(
        store, order_key=order_key, entity_id=str(order.get("entity_id") or ""),
        increment_id=str(order.get("increment_id") or ""), email=facts.email,
        address_key=facts.shipping_address, card=facts.card, total=float(order.get("grand_total") or 0),
        currency=str(order.get("order_currency_code") or order.get("base_currency_code") or ""),
        created_at=facts.created_at, features=assessment.features if assessment else {},
        score=assessment.score if assessment else None,
        model_version=assessment.model_version if assessment else "")


def review_reason(score: float, threshold: float, explanation: list[str], limit: int = 2) -> str:
    """The item's review reason: score, threshold and the top reasons; guards first, by name."""
    guards = [line.removeprefix(GUARD_PREFIX) for line in explanation if line.startswith(GUARD_PREFIX)]
    if guards:
        return f"held by a guard: {'; '.join(guards)} (anomaly score {score:.2f}, threshold {threshold:.2f})"
    top = "; ".join(explanation[:limit]) or "an unusual combination of features"
    if score >= threshold:
        return f"anomaly score {score:.2f} above threshold {threshold:.2f}: {top}"
    return f"anomaly score {score:.2f} (threshold {threshold:.2f}), flagged as an outlier: {top}"


def hold_for_review(runtime: Context, *, item_id: int, order_key: str, order: Mapping[str, Any],
                    assessment: Assessment) -> tuple[OrderReview, bool]:
    """Queue the order for review (once) and make sure it is on hold in Magento, with one comment.

    The review is written before Magento is asked, so a crash in between leaves a queued review
    whose re-run only completes the hold: an order is never held twice nor left held unqueued.
    """
    facts = order_facts(order)
    review, created = reviews.open_review(
        runtime.store, item_id=item_id, order_key=order_key, entity_id=str(order.get("entity_id")),
        increment_id=str(order.get("increment_id") or ""), email=facts.email,
        grand_total=float(order.get("grand_total") or 0),
        currency=str(order.get("order_currency_code") or order.get("base_currency_code") or ""),
        score=assessment.score, threshold=assessment.threshold, explanation=list(assessment.explanation),
        features=dict(assessment.features), model_version=assessment.model_version)
    ensure_held(runtime, review)
    return review, created


def ensure_held(runtime: Context, review: OrderReview) -> bool:
    """Hold the order in Magento unless it is already held; True if this call held it."""
    magento = runtime.magento
    entity_id = int(review.entity_id)
    current = magento.order(entity_id)
    if current.get("state") == "holded":
        return False
    if current.get("state") in ("canceled", "closed", "complete"):
        log.warning("order #%s is %s in Magento; not holding it", review.increment_id, current.get("state"))
        return False
    magento.hold(entity_id)
    magento.add_order_comment(entity_id, HOLD_COMMENT.format(score=review.score, threshold=review.threshold))
    return True


@dataclass(frozen=True)
class Decision:
    review: OrderReview
    message: str


def _said(note: str) -> str:
    return f": {note}" if note else ""


def _magento_failed(review: OrderReview, what: str, exc: SyncError) -> ReviewError:
    return ReviewError(f"Magento did not {what} order #{review.increment_id} ({exc}); nothing was recorded: "
                       "try again, or act on the order in the Magento admin and then decide here")


def _open(runtime: Context, review_id: int) -> OrderReview:
    review = reviews.get(runtime.store, review_id)
    if review is None:
        raise ReviewError(f"there is no order review {review_id}")
    if review.state not in reviews.OPEN_STATES:
        raise ReviewError(f"order #{review.increment_id} was already {review.state} by {review.decided_by}: "
                          "reload the queue")
    return review


def approve(runtime: Context, review_id: int, *, actor: str, note: str = "") -> Decision:
    """Legitimate: release the hold in Magento and send the order on to Heartland."""
    review = _open(runtime, review_id)
    magento = runtime.magento
    entity_id = int(review.entity_id)
    try:
        if magento.order(entity_id).get("state") == "holded":
            magento.unhold(entity_id)
        magento.add_order_comment(entity_id, APPROVE_COMMENT.format(actor=actor, note=_said(note)))
    except SyncError as exc:
        raise _magento_failed(review, "release", exc) from None
    decided = reviews.decide(runtime.store, review_id, "approve", actor=actor, note=note,
                             trace_message=f"approved by {actor}{_said(note)}; hold released in Magento, syncing")
    runtime.enqueue([decided.item_id])
    return Decision(decided, f"Order #{review.increment_id} approved: released in Magento and on its way to Heartland.")


def reject(runtime: Context, review_id: int, *, actor: str, note: str = "") -> Decision:
    """Fraud: cancel the order in Magento (Magento cancels only orders not on hold, so unhold first)."""
    review = _open(runtime, review_id)
    magento = runtime.magento
    entity_id = int(review.entity_id)
    try:
        state = magento.order(entity_id).get("state")
        if state != "canceled":
            if state == "holded":
                magento.unhold(entity_id)
            if not magento.cancel(entity_id):
                magento.hold(entity_id)  # keep it out of fulfilment until a person sorts it out
                raise ReviewError(f"Magento refused to cancel order #{review.increment_id} (it may be invoiced "
                                  "or shipped): it is on hold again; refund or cancel it in the Magento admin, "
                                  "then reject it here")
        magento.add_order_comment(entity_id, REJECT_COMMENT.format(actor=actor, note=_said(note)))
    except SyncError as exc:
        raise _magento_failed(review, "cancel", exc) from None
    decided = reviews.decide(runtime.store, review_id, "reject", actor=actor, note=note,
                             trace_message=f"rejected by {actor}{_said(note)}; cancelled in Magento")
    return Decision(decided, f"Order #{review.increment_id} rejected: cancelled in Magento, not sent to Heartland.")


def escalate(runtime: Context, review_id: int, *, actor: str, note: str = "") -> Decision:
    """Not sure: keep the order on hold and in review, marked for a senior look."""
    review = _open(runtime, review_id)
    decided = reviews.decide(runtime.store, review_id, "escalate", actor=actor, note=note,
                             trace_message=f"escalated by {actor}{_said(note)}; still on hold")
    return Decision(decided, f"Order #{review.increment_id} escalated: it stays on hold in the queue.")


ACTIONS = {"approve": approve, "reject": reject, "escalate": escalate}
ACTION_PAST = {"approve": "approved", "reject": "rejected", "escalate": "escalated"}


def decide(runtime: Context, review_id: int, decision: str, *, actor: str, note: str = "") -> Decision:
    action = ACTIONS.get(decision)
    if action is None:
        raise ReviewError(f"unknown decision {decision!r}: use one of {', '.join(ACTIONS)}")
    return action(runtime, review_id, actor=actor, note=note)
