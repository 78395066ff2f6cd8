"""Blueprints: webhooks (ingest), v1 (the REST API), admin actions."""
