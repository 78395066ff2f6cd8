"""The heartland sandbox."""
