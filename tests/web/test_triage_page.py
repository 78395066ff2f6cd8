"""The triage page and the proposals on the dead-letter pages: a group of dead letters with its
cause and fix, Apply for operators only, a rejection recorded with what would be right."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import select

from service.app.runtime import Runtime
from service.operations import triage
from service.store import items
from service.store.triage_tables import TriageLabel
from tests.web.support import csrf_from, make_dead, post_form, queue_length

AUTH = "heartland GET sales/orders answered 401: unauthorized — check the heartland credentials and ACL"
THROTTLED = ("Heartland has been unavailable since 2026-12-07 04:13:21 UTC (0 min, 0 waits): heartland GET "
             "sales/orders answered 429: slow down; retry this item once it is back")


def test_dead_letters_show_their_cause_and_fix(runtime: Runtime, signed_in: Callable[[str], FlaskClient]) -> None:
    _, first = make_dead(runtime, 71, failure_class="auth", error=AUTH)
    make_dead(runtime, 72, failure_class="auth", error=AUTH)
    client = signed_in("integrator")

    page = client.get("/triage").get_data(as_text=True)
    assert "auth_failed" in page and "Credentials refused" in page and "fix them on the connections page" in page
    assert 'data-test="apply"' not in page, "only operators act"
    listing = client.get("/dead-letters").get_data(as_text=True)
    assert 'data-test="group-triage"' in listing and "Fix the credentials, then retry" in listing
    letter = client.get(f"/dead-letters/{first}").get_data(as_text=True)
    assert 'data-test="triage-cause">auth_failed' in letter
    answer = client.get("/triage", headers={"Accept": "application/json"}).get_json()
    [group] = answer["groups"]
    assert (group["count"], group["proposal"]["cause"], group["can_apply"]) == (2, "auth_failed", False)


def test_an_operator_applies_a_retry_and_rejects_a_proposal(runtime: Runtime,
                                                           signed_in: Callable[[str], FlaskClient]) -> None:
    dead, _ = make_dead(runtime, 81, failure_class="rate_limited", error=THROTTLED)
    make_dead(runtime, 82, failure_class="auth", error=AUTH)
    client = signed_in("operator")
    [throttled] = [g for g in triage.groups(runtime) if g.failure_class == "rate_limited"]
    assert throttled.proposal is not None and throttled.proposal.action == "retry" and throttled.can_apply

    before = queue_length(runtime)
    done = post_form(client, f"/triage/dead_letter/{throttled.signature}/apply", follow_redirects=True)
    assert "retried 1 failure(s) as-is" in done.get_data(as_text=True)
    assert items.get(runtime.store, dead.id).state == "received"  # type: ignore[union-attr]
    assert queue_length(runtime) == before + 1

    [auth] = triage.groups(runtime)
    refused = post_form(client, f"/triage/dead_letter/{auth.signature}/apply", follow_redirects=True)
    assert "is not done by Tillbridge for this group" in refused.get_data(as_text=True)
    wrong = post_form(client, f"/triage/dead_letter/{auth.signature}/reject", {"better": "dance"},
                      follow_redirects=True)
    assert "&#39;dance&#39; is not an action" in wrong.get_data(as_text=True)
    answer = client.post(f"/triage/dead_letter/{auth.signature}/reject", json={"better": "resolve", "note": "test shop"},
                         headers={"X-CSRF-Token": csrf_from(client)})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    with runtime.store.session() as s:
        labels = sorted((lb.verdict, lb.action, lb.actor) for lb in s.scalars(select(TriageLabel)))
    assert labels == [("accepted", "retry", "operator-user"), ("corrected", "resolve", "operator-user"),
                      ("rejected", "fix_credentials", "operator-user")]

