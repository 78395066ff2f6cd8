"""Workflows: integrators' steps around the built-in flows' declared steps (the workflow builder)."""
