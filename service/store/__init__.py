"""The SQL store: tables, queries and migrations."""
