"""Payment reconciliation: money movements from both systems as ledger entries, matched, with the
exceptions for accounting to act on, daily summaries and journal exports (see run.py)."""
