"""Failures grouped by what to do about them.

Connectors raise these; the engine decides from the class alone whether to back off and retry,
wait for a destination, send the item to review, or dead-letter it at once.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from service.kernel.cards import mask_card_numbers, mask_value


class FailureClass(StrEnum):
    RETRYABLE = "retryable"  # network, 5xx, timeouts: back off and try again
    RATE_LIMITED = "rate_limited"  # 429: wait Retry-After, does not burn an attempt
    AUTH = "auth"  # 401/403: credentials or ACL; dead letter, operator fixes config
    DATA = "data"  # 4xx validation: the payload is wrong; dead letter with the field errors
    NOT_FOUND = "not_found"  # a record the target needs does not exist: review
    FATAL = "fatal"  # a bug or an unexpected answer: dead letter


class SyncError(Exception):
    """A failure with a class and a hint saying what to do about it."""

    failure_class: FailureClass = FailureClass.FATAL

    def __init__(
        self,
        message: str,
        *,
        hint: str = "",
        retry_after: float | None = None,
        status: int | None = None,
        details: Any = None,
        destination: str = "",
    ) -> None:
        # A failure is kept with its item (reason, dead letter, trace): a card number a source or a
        # target echoed in it is masked here, once for every kind of failure.
        message, hint = mask_card_numbers(message), mask_card_numbers(hint)
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.retry_after = retry_after
        self.status = status
        self.details = mask_value(details)
        self.destination = destination

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message


class RetryableError(SyncError):
    failure_class = FailureClass.RETRYABLE


class RateLimitedError(RetryableError):
    failure_class = FailureClass.RATE_LIMITED


class AuthError(SyncError):
    failure_class = FailureClass.AUTH


class DataError(SyncError):
    failure_class = FailureClass.DATA


class NotFoundInTargetError(SyncError):
    failure_class = FailureClass.NOT_FOUND


class FatalError(SyncError):
    failure_class = FailureClass.FATAL


class DestinationUnavailable(RetryableError):
    """Raised without calling out when a destination's circuit breaker is open."""


def error_for_status(
    status: int, message: str, *, retry_after: float | None = None, details: Any = None, destination: str = ""
) -> SyncError:
    """Map an HTTP status from a destination to the failure class the engine acts on."""
    kwargs: dict[str, Any] = {"status": status, "details": details, "destination": destination}
    if status == 429:
        return RateLimitedError(message, retry_after=retry_after, hint="the destination is throttling", **kwargs)
    if status in (401, 403):
        return AuthError(message, hint=f"check the {destination or 'destination'} credentials and ACL", **kwargs)
    if status == 404:
        return NotFoundInTargetError(message, **kwargs)
    if status in (408, 409, 423, 425) or status >= 500:
        return RetryableError(message, retry_after=retry_after, **kwargs)
    if 400 <= status < 500:
        return DataError(message, hint="fix the payload or the mapping and retry", **kwargs)
    return FatalError(message, **kwargs)
