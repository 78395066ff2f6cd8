"""The kinds of step an integrator adds: what each one's config holds, how it reads in words, and
what it does in a run.

| type   | config                                                    | ends the run?          | effect |
| ------ | --------------------------------------------------------- | ---------------------- | ------ |
| filter | when or rule; reason                                      | ignored, with reason   | no     |
| branch | outputs [{name, when or rule, steps}], otherwise [steps]  | if a step in it does   | no     |
| set    | target (vars.X, order.FIELD, order.extra.X); value        | no                     | no     |
| lookup | source (LOOKUPS); input; as                               | no                     | no (reads only) |
| hold   | reason                                                    | review, with reason    | no (a person decides) |
| notify | channel (webhook, slack, email); url or url_setting; secret_setting; message; binding; idempotency_key | no | yes |
| wait   | seconds                                                   | no (the item waits)    | no     |
| http   | method; url; body; secret_setting; as; binding; idempotency_key | no               | yes    |

Conditions (``when``) and values are JSONata over the run's values: ``order`` (the canonical
order), ``raw`` (the source record), ``event``, ``vars`` (what set and lookup steps wrote), and the
built-in steps' outputs once they ran (``heartland_number`` after deliver). Text (``reason``,
``message``, ``idempotency_key``) holds JSONata in ``{{ … }}``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import requests
from redis import Redis

from service.connectors import alert_channels
from service.connectors.public_urls import UnsafeURL, check_public_url, public_session, refusal
from service.engine.outcome import Outcome
from service.engine.steps import Run, Step, run_until_outcome
from service.kernel.errors import DataError, DestinationUnavailable, FatalError, SyncError, error_for_status
from service.kernel.signing import signed_headers
from service.settings import Settings, value_of
from service.workflows import conditions, effects, expressions

if TYPE_CHECKING:
    from service.connectors.heartland.client import HeartlandClient
    from service.connectors.magento.client import MagentoClient
    from service.store.db import Store

MAX_WAIT_SECONDS = 86400
HTTP_METHODS = ("POST", "PUT", "PATCH", "GET")


class StepTypeError(ValueError):
    """A step's config that cannot work; the message says which key and what to put there."""


class WorkflowContext(Protocol):
    """What workflow steps need of the running process (service.app.runtime.Runtime is one)."""

    settings: Settings
    store: Store
    redis: Redis

    @property
    def heartland(self) -> HeartlandClient: ...

    @property
    def magento(self) -> MagentoClient: ...


@dataclass
class Env:
    """One compiled workflow version in one process: the context, and in a dry run what would be sent."""

    context: WorkflowContext
    workflow: str
    version: int
    dry_run: bool = False
    would_send: list[dict[str, Any]] = field(default_factory=list)


Does = Callable[[Run], Outcome | None]


# -- the run's values as expressions see them ------------------------------------------------------
def plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def document(run: Run) -> dict[str, Any]:
    doc = {name: plain(value) for name, value in run.values.items()}
    doc.setdefault("vars", {})
    return doc


def condition_of(config: Mapping[str, Any], where: str = "") -> str:
    """The JSONata condition of a config: its ``when``, else its builder ``rule`` written out."""
    if config.get("when"):
        return str(config["when"])
    if config.get("rule"):
        return conditions.to_jsonata(config["rule"], f"{where}rule")
    raise StepTypeError(f"{where}give a condition: when (JSONata) or rule (the rule builder's all/any)")


def _check_condition(config: Mapping[str, Any], where: str = "") -> None:
    expressions.check(condition_of(config, where))


def _condition_words(config: Mapping[str, Any]) -> str:
    if config.get("rule"):
        return conditions.in_words(config["rule"])
    return str(config.get("when") or "?")


def _need(config: Mapping[str, Any], *keys: str) -> None:
    missing = [k for k in keys if not str(config.get(k) or "").strip()]
    if missing:
        raise StepTypeError(f"config needs {', '.join(missing)}")


# -- the types -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StepType:
    name: str
    title: str  # for the palette
    check: Callable[[dict[str, Any]], None]
    summary: Callable[[Mapping[str, Any]], str]
    effect: bool = False  # changes another system: needs binding and idempotency_key to publish
    ends_run: bool = False


def _check_filter(config: dict[str, Any]) -> None:
    _check_condition(config)
    _need(config, "reason")
    expressions.check_template(str(config["reason"]))


def _check_branch(config: dict[str, Any]) -> None:
    outputs = config.get("outputs")
    if not isinstance(outputs, list) or not outputs:
        raise StepTypeError("config needs outputs: a list of {name, when or rule, steps}")
    names = set()
    for n, output in enumerate(outputs):
        if not isinstance(output, Mapping) or not str(output.get("name") or "").strip():
            raise StepTypeError(f"outputs[{n}] needs a name")
        if output["name"] in names or output["name"] == "otherwise":
            raise StepTypeError(f"outputs[{n}]: the name {output['name']!r} is used twice (or is 'otherwise')")
        names.add(output["name"])
        _check_condition(output, f"outputs[{n}]: ")


def _check_set(config: dict[str, Any]) -> None:
    _need(config, "target", "value")
    target = str(config["target"])
    if not (target.startswith("vars.") or target.startswith("order.")) or not conditions.FIELD.match(target):
        raise StepTypeError(f"target {target!r} must be vars.NAME, order.FIELD or order.extra.NAME")
    expressions.check(str(config["value"]))


def _check_lookup(config: dict[str, Any]) -> None:
    _need(config, "source", "input", "as")
    if config["source"] not in LOOKUPS:
        raise StepTypeError(f"source {config['source']!r} is not one of {', '.join(LOOKUPS)}")
    if not conditions.FIELD.match(str(config["as"])) or "." in str(config["as"]):
        raise StepTypeError("as must be a plain name: the result goes to vars.<as>")
    expressions.check(str(config["input"]))


def _check_hold(config: dict[str, Any]) -> None:
    _need(config, "reason")
    expressions.check_template(str(config["reason"]))


def _check_notify(config: dict[str, Any]) -> None:
    channel = config.get("channel")
    if channel not in alert_channels.TYPES:
        raise StepTypeError(f"channel must be one of {', '.join(alert_channels.TYPES)}")
    if channel == "email":
        _need(config, "to")
    elif channel == "slack":
        _need(config, "url_setting")  # a Slack hook's URL is its secret: it stays in the environment
    elif not (config.get("url") or config.get("url_setting")):
        raise StepTypeError("config needs url (or url_setting: the setting that holds it)")
    _need(config, "message")
    expressions.check_template(str(config["message"]))
    if config.get("idempotency_key"):
        expressions.check_template(str(config["idempotency_key"]))


def _check_wait(config: dict[str, Any]) -> None:
    try:
        seconds = float(config.get("seconds"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise StepTypeError("config needs seconds: how long the item waits") from None
    if not 0 < seconds <= MAX_WAIT_SECONDS:
        raise StepTypeError(f"seconds must be between 1 and {MAX_WAIT_SECONDS}")


def _check_http(config: dict[str, Any]) -> None:
    _need(config, "url")
    method = str(config.get("method") or "POST").upper()
    if method not in HTTP_METHODS:
        raise StepTypeError(f"method must be one of {', '.join(HTTP_METHODS)}")
    try:
        check_public_url(str(config["url"]), allow_private=True)  # the address itself is checked per call
    except UnsafeURL as exc:
        raise StepTypeError(f"url: {exc}") from None
    if config.get("body"):
        expressions.check(str(config["body"]))
    if config.get("as") and (not conditions.FIELD.match(str(config["as"])) or "." in str(config["as"])):
        raise StepTypeError("as must be a plain name: the answer goes to vars.<as>")
    if config.get("idempotency_key"):
        expressions.check_template(str(config["idempotency_key"]))


TYPES: dict[str, StepType] = {t.name: t for t in (
    StepType("filter", "Skip with a reason", _check_filter,
             lambda c: f"skip when {_condition_words(c)}: {c.get('reason')}", ends_run=True),
    StepType("branch", "Branch", _check_branch,
             lambda c: "branch: " + "; ".join(f"{o.get('name')} when {_condition_words(o)}"
                                              for o in c.get("outputs") or [])),
    StepType("set", "Set a field", _check_set, lambda c: f"set {c.get('target')} to {c.get('value')}"),
    StepType("lookup", "Look up (read-only)", _check_lookup,
             lambda c: f"look up {c.get('source')} of {c.get('input')} as vars.{c.get('as')}"),
    StepType("hold", "Hold for review", _check_hold, lambda c: f"hold for review: {c.get('reason')}",
             ends_run=True),
    StepType("notify", "Notify", _check_notify,
             lambda c: f"notify by {c.get('channel')}: {c.get('message')}", effect=True),
    StepType("wait", "Wait", _check_wait, lambda c: f"wait {c.get('seconds')} s"),
    StepType("http", "HTTP call", _check_http,
             lambda c: f"{str(c.get('method') or 'POST').upper()} {c.get('url')}", effect=True),
)}


# -- read-only lookups -----------------------------------------------------------------------------
def _orders_before(context: WorkflowContext, email: Any, run: Run) -> Any:
    """How many Magento orders this email placed before this one (0: a first-time customer)."""
    if not email:
        return {"count": 0}
    filters: list[Any] = [("customer_email", str(email))]
    current = (run.get("raw") or run.get("event") or {}).get("entity_id")
    if current:
        filters.append(("entity_id", str(current), "lt"))
    found = context.magento.search_orders(filters, page_size=1, fields="total_count")
    return {"count": int(found.get("total_count") or 0)}


def _heartland_customers(context: WorkflowContext, email: Any, run: Run) -> Any:
    matches = context.heartland.find_customers_by_email(str(email)) if email else []
    return {"count": len(matches), "ids": [int(m["id"]) for m in matches]}


def _heartland_item(context: WorkflowContext, sku: Any, run: Run) -> Any:
    return context.heartland.find_item_by_public_id(str(sku)) if sku else None


def _magento_customer(context: WorkflowContext, customer_id: Any, run: Run) -> Any:
    return context.magento.customer(int(customer_id)) if customer_id else None


LOOKUPS: dict[str, Callable[[WorkflowContext, Any, Run], Any]] = {
    "magento.orders_before": _orders_before,
    "heartland.customers_by_email": _heartland_customers,
    "heartland.item_by_sku": _heartland_item,
    "magento.customer": _magento_customer,
}


# -- building a step -------------------------------------------------------------------------------
def build(spec: Any, env: Env, nested: Mapping[str, Sequence[Step]]) -> Step:
    """The engine Step for ``spec`` (a model.StepSpec); ``nested`` are a branch's compiled outputs."""
    makers: dict[str, Callable[[Any, Env, Mapping[str, Sequence[Step]]], Does]] = {
        "filter": _filter, "branch": _branch, "set": _set, "lookup": _lookup, "hold": _hold,
        "notify": _notify, "wait": _wait, "http": _http,
    }
    does = _guarded(spec, env, makers[spec.type](spec, env, nested))
    kind = TYPES[spec.type]
    title = spec.title or kind.summary(spec.config)
    writes = ("vars",) if spec.type in ("http",) and spec.config.get("as") else ()
    if kind.effect:
        return Step(spec.id, does, title, writes=writes, effect=_system(spec),
                    idempotency=str(spec.config.get("idempotency_key") or ""),
                    binding=str(spec.config.get("binding") or ""))
    if spec.type in ("hold", "wait"):
        # Recorded in the item's progress once passed: a person's retry from review goes on past the
        # hold that sent it there, and a wait that ended is not waited again.
        return Step(spec.id, does, title, binding="review" if spec.type == "hold" else "timer")
    return Step(spec.id, does, title)


def _system(spec: Any) -> str:
    if spec.type == "notify":
        return str(spec.config.get("channel"))
    return "http"


def _guarded(spec: Any, env: Env, does: Does) -> Does:
    """The step's on-failure path: dead letter (the engine's classes decide), review, or notify."""

    def run_step(run: Run) -> Outcome | None:
        try:
            return does(run)
        except expressions.ExpressionError as exc:
            failure: SyncError = DataError(f"workflow {env.workflow} v{env.version}, step {spec.id!r}: {exc}",
                                           hint="fix the expression in the workflow and publish a new version")
        except SyncError as exc:
            failure = exc
        if spec.on_failure == "review":
            return Outcome.review(f"workflow step {spec.id!r} failed: {failure}", workflow_step=spec.id)
        if spec.on_failure == "notify" and not env.dry_run:
            try:
                _send_notice(env, spec.on_failure_notify, f"workflow step {spec.id!r} failed: {failure}",
                             key="", run=run)
            except SyncError as notice_failure:
                run.say(f"the failure notice was not sent either: {notice_failure}")
        raise failure

    return run_step


def _filter(spec: Any, env: Env, nested: Mapping[str, Sequence[Step]]) -> Does:
    condition = condition_of(spec.config)

    def does(run: Run) -> Outcome | None:
        doc = document(run)
        if not expressions.truthy(condition, doc):
            run.say("passed")
            return None
        return Outcome("ignored", expressions.render(str(spec.config["reason"]), doc), {"workflow_step": spec.id},
                       str(run.get("mapping_version") or ""))

    return does


def _branch(spec: Any, env: Env, nested: Mapping[str, Sequence[Step]]) -> Does:
    outputs = [(str(o["name"]), condition_of(o)) for o in spec.config.get("outputs") or []]

    def does(run: Run) -> Outcome | None:
        doc = document(run)
        chosen = next((name for name, condition in outputs if expressions.truthy(condition, doc)), "otherwise")
        steps = nested.get(chosen, ())
        run.say(f"output {chosen}: {len(steps)} step(s)")
        run.entry["detail"]["output"] = chosen
        return run_until_outcome(steps, run)

    return does


def _set(spec: Any, env: Env, nested: Mapping[str, Sequence[Step]]) -> Does:
    target = str(spec.config["target"]).split(".")
    value_expr = str(spec.config["value"])

    def does(run: Run) -> None:
        value = expressions.evaluate(value_expr, document(run))
        if target[0] == "vars":
            variables = dict(run.get("vars") or {})
            variables[target[1]] = value
            run["vars"] = variables
        else:
            order = run["order"]
            names = {f.name for f in dataclasses.fields(order)}
            if len(target) == 3 and target[1] == "extra":
                run["order"] = dataclasses.replace(order, extra={**order.extra, target[2]: value})
            elif len(target) == 2 and target[1] in names and not isinstance(getattr(order, target[1]), (list, dict)) \
                    and not dataclasses.is_dataclass(getattr(order, target[1])):
                current = getattr(order, target[1])
                if current is not None and value is not None and not isinstance(value, type(current)) \
                        and not (isinstance(current, float) and isinstance(value, int)):
                    raise DataError(f"step {spec.id!r}: {'.'.join(target)} is {type(current).__name__}; the value "
                                    f"{value!r} is {type(value).__name__}", hint="change the value expression")
                run["order"] = dataclasses.replace(order, **{target[1]: value})
            else:
                raise DataError(f"step {spec.id!r}: the order has no settable field {'.'.join(target[1:])!r}",
                                hint="set a top-level field (e.g. order.shipping_method) or order.extra.NAME")
        run.say(f"{'.'.join(target)} = {json.dumps(value, default=str)[:200]}")

    return does


def _lookup(spec: Any, env: Env, nested: Mapping[str, Sequence[Step]]) -> Does:
    source = LOOKUPS[str(spec.config["source"])]
    input_expr, name = str(spec.config["input"]), str(spec.config["as"])

    def does(run: Run) -> None:
        key = expressions.evaluate(input_expr, document(run))
        found = source(env.context, key, run)
        run["vars"] = {**(run.get("vars") or {}), name: found}
        run.say(f"{spec.config['source']}({json.dumps(key, default=str)}) → "
                f"{json.dumps(found, default=str)[:200]}")

    return does


def _hold(spec: Any, env: Env, nested: Mapping[str, Sequence[Step]]) -> Does:
    def does(run: Run) -> Outcome:
        reason = expressions.render(str(spec.config["reason"]), document(run))
        run.say(reason)
        # The run ends here, in review; a person's retry from review goes on past this hold (the
        # engine keeps the item's progress when it ends in review).
        run.trace.progress[spec.id] = {}
        # No review_id: the item's own review (retry or resolve on the item) decides it.
        return Outcome("review", reason, {"workflow": env.workflow, "workflow_version": env.version,
                                          "workflow_step": spec.id}, str(run.get("mapping_version") or ""))

    return does


def _wait(spec: Any, env: Env, nested: Mapping[str, Sequence[Step]]) -> Does:
    seconds = float(spec.config["seconds"])

    def does(run: Run) -> None:
        if env.dry_run:
            run.say(f"would wait {seconds:g} s")
            return
        key = f"{spec.id}@until"
        until = float(run.trace.progress.setdefault(key, time.time() + seconds))
        left = until - time.time()
        if left > 0:
            when = datetime.fromtimestamp(until, UTC).strftime("%H:%M:%S")
            raise DestinationUnavailable(f"workflow step {spec.id!r} waits until {when} UTC", retry_after=left,
                                         destination="the workflow's wait")
        run.trace.progress.pop(key, None)
        run.say(f"waited {seconds:g} s")

    return does


# -- effects ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WorkflowNotice(alert_channels.Notice):
    data: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        return self.title

    def body(self) -> dict[str, Any]:
        return {"type": "tillbridge.workflow", "message": self.title, **self.data}


def _setting(env: Env, name: str) -> str:
    if not name:
        return ""
    try:
        value = value_of(env.context.settings, name)
    except KeyError:
        raise FatalError(f"the workflow names the setting {name!r}, which Tillbridge does not have",
                         hint="use an existing setting (e.g. ALERT_WEBHOOK_URL, ALERT_SLACK_WEBHOOK_URL)") from None
    return str(value or "").strip()


def _channel(env: Env, config: Mapping[str, Any]) -> alert_channels.Channel:
    s = env.context.settings
    declared = {"type": config.get("channel"), "name": f"workflow {env.workflow}",
                "public_only": not s.WEBHOOKS_ALLOW_PRIVATE_URLS}
    kind = config.get("channel")
    if kind == "email":
        built = alert_channels.build(declared, s, {"to_setting": config.get("to")})
    else:
        url = str(config.get("url") or "") or _setting(env, str(config.get("url_setting") or ""))
        if not url:
            raise FatalError(f"the {kind} notice has no URL: {config.get('url_setting')} is empty",
                             hint=f"set {config.get('url_setting')}")
        try:
            url = check_public_url(url, allow_private=s.WEBHOOKS_ALLOW_PRIVATE_URLS)
        except UnsafeURL as exc:
            raise FatalError(f"the workflow's {kind} URL may not be used: {exc}", hint="give a public URL") from None
        built = alert_channels.build(declared, s, {
            "url_setting": url, "secret_setting": _setting(env, str(config.get("secret_setting") or ""))})
    if isinstance(built, str):
        raise FatalError(f"the workflow's {kind} notice cannot be sent: {built}")
    return built


def _send_notice(env: Env, config: Mapping[str, Any], message: str, *, key: str, run: Run) -> str:
    channel = _channel(env, config)
    item = run.item
    notice = WorkflowNotice(title=message, alerts=[], url=str(env.context.settings.TILLBRIDGE_PUBLIC_URL
                                                               or "") + f"/items/{getattr(item, 'id', '')}",
                            id=key, data={"workflow": env.workflow, "version": env.version, "key": key,
                                          "item": getattr(item, "id", None), "entity": getattr(item, "entity_key", "")})
    try:
        channel.send(notice)
    except alert_channels.ChannelError as exc:
        from service.kernel.errors import RetryableError

        raise RetryableError(f"the notice was not accepted: {exc}", hint="retried with backoff") from None
    return channel.kind


def _effect_key(spec: Any, env: Env, run: Run) -> str:
    return f"{env.workflow}:{spec.id}:" + expressions.render(str(spec.config["idempotency_key"]), document(run))


def _notify(spec: Any, env: Env, nested: Mapping[str, Sequence[Step]]) -> Does:
    def does(run: Run) -> None:
        doc = document(run)
        message = expressions.render(str(spec.config["message"]), doc)
        key = _effect_key(spec, env, run)
        target = str(spec.config.get("channel"))
        if env.dry_run:
            already = effects.state(env.context.store, key)
            env.would_send.append({"step": spec.id, "kind": "notify", "channel": target, "message": message,
                                   "key": key, "would": "skip: already sent" if already == "sent" else "send"})
            run.say(f"would notify by {target}: {message}")
            return
        decision = effects.begin(env.context.store, key, workflow=env.workflow, version=env.version, step=spec.id,
                                 binding=str(spec.config["binding"]), item_id=getattr(run.item, "id", None),
                                 target=target)
        run.entry["detail"]["effect"] = {"key": key, "state": "skipped: already sent" if decision == "sent"
                                         else "sent"}
        if decision == "sent":
            run.say(f"already sent ({key}); not sent again")
            return
        kind = _send_notice(env, spec.config, message, key=key, run=run)
        effects.sent(env.context.store, key, f"accepted by the {kind} channel")
        run.say(f"notified by {kind}: {message}")

    return does


def _http(spec: Any, env: Env, nested: Mapping[str, Sequence[Step]]) -> Does:
    method = str(spec.config.get("method") or "POST").upper()

    def does(run: Run) -> None:
        doc = document(run)
        body = expressions.evaluate(str(spec.config["body"]), doc) if spec.config.get("body") else None
        key = _effect_key(spec, env, run)
        url = str(spec.config["url"])
        if env.dry_run:
            already = effects.state(env.context.store, key)
            env.would_send.append({"step": spec.id, "kind": "http", "method": method, "url": url, "body": body,
                                   "key": key, "would": "skip: already sent" if already == "sent" else "send"})
            run.say(f"would call {method} {url}")
            return
        s = env.context.settings
        try:
            url = check_public_url(url, allow_private=s.WEBHOOKS_ALLOW_PRIVATE_URLS)
        except UnsafeURL as exc:
            raise FatalError(f"step {spec.id!r} may not call {url}: {exc}", hint="give a public URL") from None
        where = alert_channels._where(url)
        decision = effects.begin(env.context.store, key, workflow=env.workflow, version=env.version, step=spec.id,
                                 binding=str(spec.config["binding"]), item_id=getattr(run.item, "id", None),
                                 target=where)
        run.entry["detail"]["effect"] = {"key": key, "state": "skipped: already sent" if decision == "sent"
                                         else "sent"}
        if decision == "sent":
            run.say(f"already called ({key}); not called again")
            return
        data = json.dumps(body, separators=(",", ":"), default=str).encode() if body is not None else b""
        secret = _setting(env, str(spec.config.get("secret_setting") or ""))
        headers = signed_headers(secret, key, data) if secret else {"Content-Type": "application/json",
                                                                    "webhook-id": key}
        headers["Idempotency-Key"] = key
        timeout = (s.HTTP_CONNECT_TIMEOUT_SECONDS, s.HTTP_TIMEOUT_SECONDS)
        try:
            with public_session(allow_private=s.WEBHOOKS_ALLOW_PRIVATE_URLS) as session:
                response = session.request(method, url, data=data or None, headers=headers, timeout=timeout,
                                           allow_redirects=False)
        except requests.RequestException as exc:
            from service.kernel.errors import RetryableError

            why = refusal(exc)
            if why:
                raise FatalError(f"step {spec.id!r} may not call {where}: {why}", hint="give a public URL") from None
            raise RetryableError(f"{method} {where} did not answer ({type(exc).__name__})",
                                 destination="http") from None
        if not 200 <= response.status_code < 300:
            raise error_for_status(response.status_code, f"{method} {where} answered {response.status_code}: "
                                   f"{response.text[:200]}", destination="http")
        effects.sent(env.context.store, key, f"{response.status_code}")
        if spec.config.get("as"):
            try:
                answer = response.json()
            except ValueError:
                answer = response.text[:2000]
            run["vars"] = {**(run.get("vars") or {}), str(spec.config["as"]): answer}
        run.say(f"{method} {where} → {response.status_code}")

    return does
