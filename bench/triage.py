"""Failure triage: does the proposal match what the person then did?

Replays bench/data/triage_failures.jsonl (recorded from real runs by bench/triage_record.py) in the
order the failures happened. The first ``--history`` share is history only: people resolved those
before triage was asked anything. Every later failure is proposed from the history before it,
then its resolution joins the history (as it would in the store): train and evaluation never see
a failure from the future. A proposal matches when its action shows as what the person did
(retried as-is, retried with an edited payload, retried after a mapping change, resolved).

Compared:
  old message      the fixed hint the engine gives today: a data failure says "fix the payload or the
                   mapping and retry" (counted as right for either), a not-found one says what the
                   flow's hint says (the unknown-SKU hint "add the item or map the SKU, then retry":
                   right for a retry or a mapping change), anything else: retry
  majority         the action people took most often so far for the same failure class and flow
  rules only       service/ai/triage with rules/triage.yaml and no history
  triage           rules and the neighbour model over the history so far

    .venv/bin/python bench/triage.py [--data bench/data/triage_failures.jsonl] [--history 0.3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.ai.triage import Failure, Rulebook, TriageModel, observed_example, propose  # noqa: E402


def failure_of(row: dict[str, Any]) -> Failure:
    return Failure(flow=row["flow"], failure_class=row["failure_class"], message=row["message"],
                   status=row.get("status"), body=row.get("body"), fields=row.get("fields") or {},
                   kind=row.get("kind", "dead_letter"))


def old_message_right(row: dict[str, Any]) -> bool:
    did = row["person"]
    if row["failure_class"] == "data":
        return did in ("edit_payload", "apply_mapping_change")
    if row["failure_class"] == "not_found" and "or map the SKU" in row["message"]:
        return did in ("retry", "apply_mapping_change")
    return did == "retry"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT / "bench" / "data" / "triage_failures.jsonl"))
    parser.add_argument("--rules", default=str(ROOT / "rules" / "triage.yaml"))
    parser.add_argument("--history", type=float, default=0.3, help="share of the oldest failures used as history only")
    args = parser.parse_args()

    rows = [json.loads(line) for line in Path(args.data).read_text().splitlines() if line.strip()]
    rows.sort(key=lambda r: r["at"])
    book = Rulebook.from_spec(yaml.safe_load(Path(args.rules).read_text()))
    split = int(len(rows) * args.history)
    history, replay = rows[:split], rows[split:]

    examples = [observed_example(book, failure_of(r), r["person"]) for r in history]
    majority: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for r in history:
        majority[(r["flow"], r["failure_class"])][r["person"]] += 1

    right: dict[str, int] = Counter()
    by_scenario: dict[str, Counter[str]] = defaultdict(Counter)
    fit_ms: list[float] = []
    propose_ms: list[float] = []
    for r in replay:
        failure = failure_of(r)
        did = r["person"]
        started = time.perf_counter()
        model = TriageModel(examples, min_similarity=book.min_similarity, neighbours=book.neighbours)
        fit_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        ours = propose(failure, book, model)
        propose_ms.append((time.perf_counter() - started) * 1000)
        rules_only = propose(failure, book, None)
        seen = majority[(r["flow"], r["failure_class"])]
        guesses = {
            "old message": old_message_right(r),
            "majority": bool(seen) and seen.most_common(1)[0][0] == did,
            "rules only": book.observed_as(rules_only.action) == did,
            "triage": book.observed_as(ours.action) == did,
        }
        for method, ok in guesses.items():
            right[method] += ok
            by_scenario[r["scenario"]][method] += ok
        by_scenario[r["scenario"]]["n"] += 1
        examples.append(observed_example(book, failure, did))
        seen[did] += 1

    n = len(replay)
    print(f"{len(rows)} recorded failures; {len(history)} as history, {n} replayed in order "
          f"(each proposed from the resolutions before it)")
    print(f"{'method':<14} {'matches':>8} {'share':>7}")
    for method in ("old message", "majority", "rules only", "triage"):
        print(f"{method:<14} {right[method]:>8} {right[method] / n:>7.1%}")
    print("\nper scenario (share matching: old message / majority / rules only / triage):")
    for scenario, c in sorted(by_scenario.items()):
        shares = " / ".join(f"{c[m] / c['n']:.0%}" for m in ("old message", "majority", "rules only", "triage"))
        print(f"  {scenario:<26} n={c['n']:<4} {shares}")
    print(f"\ntiming: refit {statistics.median(fit_ms):.1f} ms median ({max(fit_ms):.1f} max, "
          f"up to {len(examples)} examples); proposal {statistics.median(propose_ms):.2f} ms median")


if __name__ == "__main__":
    main()
