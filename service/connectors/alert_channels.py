"""Where alert notices go: a signed generic webhook, a Slack incoming webhook, email over SMTP.

A channel is declared in rules/alerts.yaml by the settings it reads (``url_setting``,
``secret_setting``, ``to_setting``), so URLs that are secrets (a Slack hook, a webhook with a token
in it) and passwords stay in the environment. A channel whose settings are empty is listed as not
configured, saying which setting to set, and is not used.

The generic webhook is signed the Standard Webhooks way (service/kernel/signing.py): ``webhook-id``,
``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256 over "{id}.{ts}.{body}">``
with ALERT_WEBHOOK_SECRET, so a receiver can check it with any Standard Webhooks library.
"""

from __future__ import annotations

import json
import smtplib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Protocol

import requests

from service.connectors.public_urls import public_session, refusal
from service.kernel.signing import signed_headers
from service.settings import Settings, value_of

TYPES = ("webhook", "slack", "email")


class ChannelError(Exception):
    """A notice was not accepted; the message says by whom and why (never a secret)."""


class Channel(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...

    def send(self, notice: Notice) -> None: ...


@dataclass(frozen=True)
class Notice:
    """One evaluation's news for one channel: alerts that fired, repeat, or resolved."""

    title: str  # e.g. "[FIRING:1, RESOLVED:1] Tillbridge"
    alerts: list[dict[str, Any]]  # id, rule, subject, severity, state, summary, value, started_at, resolved_at
    url: str  # the alerts page
    id: str = ""  # the webhook-id a receiver deduplicates on; a new one per notice when empty

    def text(self) -> str:
        lines = [self.title]
        for alert in self.alerts:
            mark = "RESOLVED" if alert["state"] == "resolved" else str(alert["severity"]).upper()
            lines.append(f"- [{mark}] {alert['rule']}{' · ' + alert['subject'] if alert['subject'] else ''}: "
                         f"{alert['summary']}")
        lines.append(self.url)
        return "\n".join(lines)

    def body(self) -> dict[str, Any]:
        return {"type": "tillbridge.alerts", "title": self.title, "url": self.url, "alerts": self.alerts,
                "firing": sum(1 for a in self.alerts if a["state"] == "firing"),
                "resolved": sum(1 for a in self.alerts if a["state"] == "resolved")}


@dataclass(frozen=True)
class WebhookChannel:
    name: str
    url: str
    secret: str
    timeout: tuple[float, float]
    kind: str = "webhook"
    public_only: bool = False  # a URL a user gave (a workflow's notice): public addresses only

    def send(self, notice: Notice) -> None:
        body = json.dumps(notice.body(), separators=(",", ":"), default=str).encode()
        message_id = notice.id or f"msg_{uuid.uuid4().hex}"
        headers = (signed_headers(self.secret, message_id, body) if self.secret
                   else {"Content-Type": "application/json", "webhook-id": message_id})
        _post(self.name, self.url, body, headers, self.timeout, public_only=self.public_only)


@dataclass(frozen=True)
class SlackChannel:
    name: str
    url: str
    timeout: tuple[float, float]
    kind: str = "slack"
    public_only: bool = False

    def send(self, notice: Notice) -> None:
        body = json.dumps({"text": notice.text()}).encode()
        _post(self.name, self.url, body, {"Content-Type": "application/json"}, self.timeout,
              public_only=self.public_only)


@dataclass(frozen=True)
class EmailChannel:
    name: str
    to: tuple[str, ...]
    sender: str
    host: str
    port: int
    user: str
    password: str
    starttls: bool
    timeout: float
    kind: str = "email"

    def send(self, notice: Notice) -> None:
        message = EmailMessage()
        message["Subject"] = notice.title
        message["From"] = self.sender
        message["To"] = ", ".join(self.to)
        message.set_content(notice.text())
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.user:
                    smtp.login(self.user, self.password)
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise ChannelError(f"{self.name}: SMTP {self.host}:{self.port} refused the notice "
                               f"({type(exc).__name__}: {exc}); check ALERT_SMTP_*") from None


def _post(name: str, url: str, body: bytes, headers: Mapping[str, str], timeout: tuple[float, float], *,
          public_only: bool = False) -> None:
    where = _where(url)
    try:
        if public_only:
            with public_session(allow_private=False) as session:
                response = session.post(url, data=body, headers=dict(headers), timeout=timeout)
        else:
            response = requests.post(url, data=body, headers=dict(headers), timeout=timeout)
    except requests.RequestException as exc:
        why = refusal(exc)
        raise ChannelError(f"{name}: {where} " + (why if why else f"did not answer ({type(exc).__name__})")) from None
    if not 200 <= response.status_code < 300:
        raise ChannelError(f"{name}: {where} answered {response.status_code}: {response.text[:200]}")


def _where(url: str) -> str:
    """Scheme, host and port only: a hook's path is often its secret (Slack's are)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def build(declared: Mapping[str, Any], settings: Settings, given: Mapping[str, Any] | None = None) -> Channel | str:
    """The channel ``declared`` in rules/alerts.yaml, or why it is not configured. Its URL, secret and
    recipients come from the settings ``declared`` names (``url_setting``, ``secret_setting``,
    ``to_setting``), or from ``given`` under the same keys (a workflow's own values)."""
    name = str(declared.get("name") or declared.get("type"))
    kind = str(declared.get("type", ""))
    http_timeout = (settings.HTTP_CONNECT_TIMEOUT_SECONDS, settings.HTTP_TIMEOUT_SECONDS)

    def setting(key: str) -> str:
        if given and key in given:
            return str(given[key] or "").strip()
        try:
            return str(value_of(settings, str(declared.get(key) or "")) or "").strip()
        except KeyError:
            return ""

    if kind == "webhook":
        url = setting("url_setting")
        if not url:
            return f"set {declared.get('url_setting')}"
        return WebhookChannel(name, url, setting("secret_setting"), http_timeout,
                              public_only=bool(declared.get("public_only")))
    if kind == "slack":
        url = setting("url_setting")
        return (SlackChannel(name, url, http_timeout, public_only=bool(declared.get("public_only"))) if url
                else f"set {declared.get('url_setting')}")
    if kind == "email":
        to = tuple(a.strip() for a in setting("to_setting").split(",") if a.strip())
        host = settings.ALERT_SMTP_HOST
        if not to or not host:
            return f"set {declared.get('to_setting')} and ALERT_SMTP_HOST"
        return EmailChannel(name, to, settings.ALERT_EMAIL_FROM or "tillbridge@localhost", host,
                            settings.ALERT_SMTP_PORT, settings.ALERT_SMTP_USER,
                            settings.ALERT_SMTP_PASSWORD, settings.ALERT_SMTP_STARTTLS,
                            settings.HTTP_TIMEOUT_SECONDS)
    return f"unknown channel type {kind!r}: use one of {', '.join(TYPES)}"
