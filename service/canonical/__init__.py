"""Canonical records: what Tillbridge means by an order, a customer, a product…, whatever the system."""
