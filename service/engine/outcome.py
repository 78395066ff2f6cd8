"""What a flow says about the item it ran."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Outcome:
    state: str  # done | ignored | review
    reason: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    mapping_version: str = ""

    @classmethod
    def done(cls, reason: str = "", **result: Any) -> Outcome:
        return cls("done", reason, result)

    @classmethod
    def ignored(cls, reason: str, **result: Any) -> Outcome:
        return cls("ignored", reason, result)

    @classmethod
    def review(cls, reason: str, **result: Any) -> Outcome:
        return cls("review", reason, result)
