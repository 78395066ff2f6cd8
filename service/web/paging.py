"""Paging for list pages: which page was asked for, and whether there is another one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import request, url_for


@dataclass
class Page:
    rows: list[Any]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    def url(self, number: int) -> str:
        """This page's URL with the same filters, at page ``number``."""
        args: dict[str, Any] = {**(request.view_args or {})}
        args.update((k, v) for k, v in request.args.items() if k != "page" and v)
        if number > 1:
            args["page"] = str(number)
        return url_for(str(request.endpoint), **args)


#: The last page a list goes to: beyond it the rows skipped would not fit the database's integers
#: (a page asked for past the end shows no rows, as any page past the end does).
MAX_PAGE = 1_000_000


def page_number(raw: str | None) -> int:
    """The page asked for: 1 for a missing or unreadable number, at most MAX_PAGE."""
    try:
        return min(MAX_PAGE, max(1, int(raw or 1)))
    except ValueError:
        return 1
